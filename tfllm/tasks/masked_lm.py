"""Masked language modeling: pretrain a BERT (from scratch or continued from any backbone) with BERT's
masked-LM objective and, optionally, next-sentence prediction.

`tfllm pretrain` trains it; the product is a KerasHub preset dir (`<run_dir>/model`) that every BERT
task takes as `backbone.source`. Its export fills masks: texts with [MASK] in, the likeliest tokens out.
"""

import keras

from tfllm.backbones.bert_from_scratch import bert_from_scratch
from tfllm.backbones.sources import load_bert
from tfllm.configs.sections import SCRATCH_SOURCE
from tfllm.models.masked_lm import MaskedLM
from tfllm.tasks.task import DocumentsTask
from tfllm.terminal import progress_verbosity
from tfllm.text.wordpiece_training import train_wordpiece_vocabulary
from tfllm.training.run_files import model_dir, run_vocabulary

_EVALUATION_SEED = 1234  # evaluation masks are drawn once, the same in every run


class MaskedLanguageModelingTask(DocumentsTask):
    """A `MaskedLM` on documents; its quality is masked-token perplexity and accuracy, on masks drawn
    from a fixed seed (with next-sentence prediction: `mlm_...` and `nsp_...` metrics)."""

    model_class = MaskedLM

    def build(self, config, train_examples):
        backbone, training = config.backbone, config.training
        if backbone.source == SCRATCH_SOURCE:
            vocabulary = run_vocabulary(config, train_examples, ["vocab.txt"], lambda corpus, output: (
                train_wordpiece_vocabulary([corpus], output, backbone.vocabulary_size, backbone.lowercase)))[0]
            parts = bert_from_scratch(backbone.size, vocabulary, backbone.lowercase, backbone.sequence_length,
                                      backbone.context_length, training.dropout)
        else:
            parts = load_bert(backbone.source, backbone.sequence_length, backbone.preprocess, backbone.native,
                              training.dropout)
        model = config.model
        return MaskedLM(parts, model.max_predictions, model.whole_word_masking, model.mask_rate,
                        model.next_sentence_prediction)

    def dataset(self, config, model, examples, training):
        if not training:
            keras.utils.set_random_seed(_EVALUATION_SEED)
        return model.make_dataset(examples, config.training.batch_size, training=training,
                                  fixed_length=config.training.fixed_length, seed=config.training.seed)

    def evaluate(self, config, model, examples, directory, server=None):
        model.compile()
        data = self.dataset(config, model, examples, False)
        verbose = progress_verbosity() if directory is not None else 0  # tfllm evaluate: minutes on a corpus
        report = {k: float(v) for k, v in model.evaluate(data, verbose=verbose, return_dict=True).items()}
        report["masked_tokens"] = int(sum(float((w["mlm"] if model.next_sentence else w).numpy().sum())
                                          for _, _, w in data))
        report["next_sentence"] = model.next_sentence
        return report

    def summary(self, report):
        mlm = "mlm_" if report["next_sentence"] else ""
        return (f"masked-LM perplexity {report[mlm + 'perplexity']:.2f}, accuracy {report[mlm + 'accuracy']:.4f} "
                f"over {report['masked_tokens']} masked tokens" +
                (f"; next-sentence accuracy {report['nsp_accuracy']:.4f}" if report["next_sentence"] else ""))

    def trained_message(self, config):
        return f"use it in any BERT task config as backbone: {{source: {model_dir(config)}}}"
