"""Pretrain a BERT with masked LM, from scratch or continued from any backbone, from a `JobConfig`.

`tfllm pretrain` calls `train`; the product is a KerasHub preset dir (`<run_dir>/model`) that every
BERT task takes as `backbone.source`.
"""


import keras

from tfllm.backbones.bert_from_scratch import bert_from_scratch
from tfllm.backbones.sources import load_backbone
from tfllm.config import SCRATCH_SOURCE
from tfllm.evaluation.classification_report import write_report
from tfllm.jobs.causal_lm import read_split, training_splits
from tfllm.jobs.fitting import compile_for_training, fit_and_save
from tfllm.jobs.job_layout import evaluation_dir, job_strategy, model_dir, run_vocabulary, training_scope
from tfllm.tasks.masked_lm import MaskedLM
from tfllm.text.wordpiece_training import train_wordpiece_vocabulary

_EVALUATION_SEED = 1234  # evaluation masks are drawn once, the same in every run


def _scratch_vocabulary(config, texts):
    """Trains (once per run dir, so a resumed run keeps it) a WordPiece vocabulary on the training texts;
    returns its path."""
    backbone = config.backbone
    return run_vocabulary(config, texts, ["vocab.txt"], lambda corpus, output: train_wordpiece_vocabulary(
        [corpus], output, backbone.vocabulary_size, backbone.lowercase))[0]


def build(config, texts):
    """The `MaskedLM` a config starts from: a fresh BERT with a vocabulary of `texts`, or a loaded backbone."""
    backbone, training = config.backbone, config.training
    if backbone.source == SCRATCH_SOURCE:
        parts = bert_from_scratch(backbone.size, _scratch_vocabulary(config, texts), backbone.lowercase,
                                  backbone.sequence_length, backbone.context_length, training.dropout)
    else:
        parts = load_backbone(backbone.source, backbone.sequence_length, backbone.preprocess, backbone.native,
                              training.dropout)
    return MaskedLM(parts, training.max_predictions, training.whole_word_masking, training.mask_rate,
                    training.next_sentence_prediction)


def _dataset(config, lm, texts, training):
    if not training:
        keras.utils.set_random_seed(_EVALUATION_SEED)
    return lm.make_dataset(texts, config.training.batch_size, training=training,
                           fixed_length=config.training.fixed_length, seed=config.training.seed)


def train(config, verbose="auto"):
    """Pretrains as `config` says; saves the backbone as a KerasHub preset dir in `<run_dir>/model`."""
    strategy = job_strategy(config)
    train_texts, validation_texts = training_splits(config)
    keras.utils.set_random_seed(config.training.seed)
    with training_scope(config, strategy):
        lm = build(config, train_texts)
        train_data = _dataset(config, lm, train_texts, True)
        validation_data = _dataset(config, lm, validation_texts, False) if validation_texts else None
        compile_for_training(lm, config, train_data)
    fit_and_save(lm, config, train_data, lambda: _dataset(config, lm, train_texts, True), validation_data,
                 model_dir(config), verbose)
    print(f"use it in any BERT task config as backbone: {{source: {model_dir(config)}}}")
    return lm


def load_trained(config):
    """The pretrained model, its masked-LM head included."""
    return MaskedLM.load(model_dir(config))


def evaluate(config, split="validation", path=None):
    """Masked-token loss, accuracy and perplexity on a split, with masks drawn from a fixed seed (with
    next-sentence prediction: `mlm_...` and `nsp_...` metrics)."""
    if path or getattr(config.data, split):
        texts = read_split(config, path or getattr(config.data, split))
    elif split == "validation" and config.data.validation_split:
        texts = training_splits(config)[1]
    else:
        raise ValueError(f"{config.path}: data.{split} is not set; nothing to evaluate")
    lm = load_trained(config)
    lm.compile()
    data = _dataset(config, lm, texts, False)
    report = {k: float(v) for k, v in lm.evaluate(data, verbose=0, return_dict=True).items()}
    report["masked_tokens"] = int(sum(float((w["mlm"] if lm.next_sentence else w).numpy().sum()) for _, _, w in data))
    directory = evaluation_dir(config, split)
    mlm = "mlm_" if lm.next_sentence else ""
    print(f"masked-LM perplexity {report[mlm + 'perplexity']:.2f}, accuracy {report[mlm + 'accuracy']:.4f} over "
          f"{report['masked_tokens']} masked tokens" +
          (f"; next-sentence accuracy {report['nsp_accuracy']:.4f}" if lm.next_sentence else ""))
    write_report(report, directory)
    print(f"report written to {directory}")
    return report


def export(config, version=None):
    raise ValueError(f"{config.path}: a pretrained backbone is not served on its own: fine-tune it with "
                     f"backbone: {{source: {model_dir(config)}}} in a task config, or write it as TF-Hub "
                     f"SavedModels with tfllm convert {model_dir(config)} --output DIR")
