"""Train, evaluate, generate from, chat with and export GPT-2 language models from a `JobConfig`.

Three tasks share this job: `causal_lm` (plain-text documents, packed), `chat` (multi-turn dialogues,
loss on the replies; see `tfllm.tasks.chat_format`) and `conditional_generation` (source -> target
pairs such as summaries and translations, loss on the targets; see `tfllm.tasks.prompt_format`).
"""

import dataclasses
import random
import warnings

import keras

from tfllm import storage
from tfllm.backbones.gpt2_sources import gpt2_from_scratch, load_gpt2
from tfllm.config import SCRATCH_SOURCE
from tfllm.data.corpus_readers import read_dialogues, read_documents, read_pairs
from tfllm.evaluation.classification_report import write_predictions, write_report
from tfllm.evaluation.generation_metrics import generation_scores
from tfllm.jobs.fitting import compile_for_training, fit_and_save
from tfllm.jobs.job_layout import (
    evaluation_dir, export_job, job_strategy, kept_examples, model_dir, run_vocabulary, training_scope)
from tfllm.tasks.causal_lm import CausalLM
from tfllm.tasks.causal_lm_serving import CausalLMServer
from tfllm.tasks.prompt_format import PromptFormat
from tfllm.text.byte_pair_training import train_byte_pair_vocabulary
from tfllm.training.generation_samples import GenerationSamples

def read_split(config, path):
    """Documents (causal_lm), turn tuples (chat) or (source, target) pairs of one file, at most `data.limit`."""
    data = config.data
    if config.task == "chat":
        result = read_dialogues(path, data.format, data.turns_field, data.remove_spaces, data.on_bad_rows)
        return [dialogue.turns for dialogue in kept_examples(path, result, data.limit)]
    if config.task == "conditional_generation":
        result = read_pairs(path, data.format, data.source_column, data.target_column, data.column_names,
                            data.on_bad_rows)
    else:
        result = read_documents(path, data.format, data.text_column, data.document_separator, data.on_bad_rows,
                                data.column_names)
    return kept_examples(path, result, data.limit)


def training_splits(config):
    """(train, validation) examples; validation is None, a file, or a `data.validation_split` share of train.

    The share is the last one for documents and dialogues (neighbours in a corpus would leak into
    training), and a seeded random one for pairs (files of pairs are often sorted, e.g. by length).
    """
    if not config.data.train:
        raise ValueError(f"{config.path}: data.train is not set")
    train_examples = read_split(config, config.data.train)
    if config.data.validation:
        return train_examples, read_split(config, config.data.validation)
    if config.data.validation_split:
        if config.task == "conditional_generation":
            random.Random(config.training.seed).shuffle(train_examples)
        cut = len(train_examples) - max(1, int(len(train_examples) * config.data.validation_split))
        return train_examples[:cut], train_examples[cut:]
    return train_examples, None


def _scratch_vocabulary(config, examples):
    """Trains (once per run dir, so a resumed run keeps it) a byte-level BPE vocabulary on the training texts;
    returns (vocabulary, merges)."""
    texts = ["\n".join(example) if isinstance(example, tuple) else example for example in examples]
    vocabulary_path, merges_path = run_vocabulary(
        config, texts, ["vocab.json", "merges.txt"],
        lambda corpus, output: train_byte_pair_vocabulary([corpus], output, config.backbone.vocabulary_size))
    return storage.read_json(vocabulary_path), storage.read_text(merges_path).splitlines()


def build(config, train_examples):
    """The `CausalLM` a config starts from: a pretrained GPT-2, or a fresh one with a BPE vocabulary of the data."""
    backbone = config.backbone
    if backbone.source == SCRATCH_SOURCE:
        parts = gpt2_from_scratch(backbone.size, *_scratch_vocabulary(config, train_examples),
                                  max_sequence_length=backbone.context_length, dropout=config.training.dropout)
    else:
        parts = load_gpt2(backbone.source, dropout=config.training.dropout)
    prompt_format = None
    if config.task == "conditional_generation":
        prompt_format = PromptFormat(config.data.source_prefix, config.data.target_prefix)
    lm = CausalLM(*parts, chat=config.task == "chat", prompt_format=prompt_format)
    if config.training.lora_rank:
        lm.enable_lora(config.training.lora_rank, backbone.source)
    return lm


def load_trained(config, quantize=None):
    """The trained model for inference: LoRA adapters merged into its weights, then quantized if asked ("int8")."""
    lm = CausalLM.load(model_dir(config)).merged()
    if quantize:
        with warnings.catch_warnings():  # Keras warns for every layer without weights to quantize
            warnings.simplefilter("ignore", UserWarning)
            lm.backbone.quantize(quantize)  # the backbone holds every weight, the tied output embedding too
    return lm


def _dataset(config, lm, examples, training):
    make = {"chat": lm.make_chat_dataset, "conditional_generation": lm.make_conditional_dataset}.get(
        config.task, lm.make_dataset)
    return make(examples, sequence_length=config.backbone.sequence_length, batch_size=config.training.batch_size,
                training=training, seed=config.training.seed)


def sampler(config, lm, **overrides):
    """A function from prompts (chat: histories) to texts, with the config's generation settings."""
    settings = {**_generation_settings(config), **overrides}
    if config.task == "chat":
        settings.pop("num_beams")
        return lambda histories: lm.reply(histories, **settings)
    return lambda prompts: lm.generate_text(prompts, **settings)


def _generation_settings(config):
    g = config.generation
    return dict(max_new_tokens=g.max_new_tokens, temperature=g.temperature, top_k=g.top_k, top_p=g.top_p,
                seed=g.seed, num_beams=g.num_beams, stop=list(g.stop))


def train(config, verbose="auto"):
    """Fine-tunes (or trains from scratch) as `config` says; saves the model in `<run_dir>/model`.

    A killed run resumes from its last backup when started again (`resumable_fit`). Returns the `CausalLM`.
    """
    strategy = job_strategy(config)
    keras.utils.set_random_seed(config.training.seed)
    train_examples, validation_examples = training_splits(config)
    with training_scope(config, strategy):
        lm = build(config, train_examples)
        train_data = _dataset(config, lm, train_examples, True)
        validation_data = _dataset(config, lm, validation_examples, False) if validation_examples else None
        compile_for_training(lm, config, train_data)
    samples = []
    if config.generation.samples and lm.distribute_strategy.extended.should_checkpoint:  # not on every worker
        generate = sampler(config, lm)
        if config.task == "chat":  # each sample prompt is the first message of a conversation
            generate = lambda messages, reply=generate: reply([[message] for message in messages])  # noqa: E731
        samples.append(GenerationSamples(generate, config.generation.samples,
                                         storage.join(config.run_dir, "tensorboard")))
    fit_and_save(lm, config, train_data, lambda: _dataset(config, lm, train_examples, True), validation_data,
                 model_dir(config), verbose, samples)
    return lm


def evaluate(config, split="validation", path=None, lm=None, quantize=None):
    """Loss, token accuracy and perplexity on a split (on replies or targets only); writes report.json.

    For conditional generation, it also generates a target for every source (beam search when
    `generation.num_beams` > 1, else greedy), scores them with ROUGE and BLEU, and writes each
    source, reference and prediction to predictions.jsonl beside the report.
    Without a validation file, the validation split is the share `data.validation_split` held out in training.
    `quantize` ("int8") scores the model as `tfllm export --quantize` would serve it.
    """
    path = path or getattr(config.data, split)
    if path:
        examples = read_split(config, path)
    elif split == "validation" and config.data.validation_split:
        examples = training_splits(config)[1]
        path = f"{config.data.train} (a {config.data.validation_split:.0%} share)"
    else:
        raise ValueError(f"{config.path}: data.{split} is not set; nothing to evaluate")
    lm = lm or load_trained(config, quantize)
    lm.compile()
    data = _dataset(config, lm, examples, False)
    report = {k: float(v) for k, v in lm.evaluate(data, verbose=0, return_dict=True).items()}
    report.update(data=path, tokens=int(sum(float(w.numpy().sum()) for _, _, w in data)), quantize=quantize)
    directory = evaluation_dir(config, split + (f"_{quantize}" if quantize else ""))
    print(f"{path}: perplexity {report['perplexity']:.2f}, token accuracy {report['accuracy']:.4f} "
          f"over {report['tokens']} target tokens")
    if config.task == "conditional_generation":
        report.update(_generation_report(config, lm, examples, directory))
    write_report(report, directory)
    print(f"report written to {directory}")
    return report


def _generation_report(config, lm, pairs, directory, batch_size=32):
    """ROUGE and BLEU of deterministic generations for `pairs`; writes them to `directory`/predictions.jsonl."""
    settings = dict(_generation_settings(config), temperature=0.0)
    generate = sampler(config, lm, **settings)
    progress = keras.utils.Progbar(len(pairs), unit_name="example")
    predictions = []
    for start in range(0, len(pairs), batch_size):
        predictions.extend(generate([source for source, _ in pairs[start: start + batch_size]]))
        progress.update(len(predictions))
    predictions_path = write_predictions(({"source": source, "reference": reference, "prediction": prediction}
                                          for (source, reference), prediction in zip(pairs, predictions)), directory)
    scores = generation_scores(predictions, [reference for _, reference in pairs])
    print(f"{len(pairs)} generated: ROUGE-1 {scores['rouge1']:.2%}, ROUGE-2 {scores['rouge2']:.2%}, "
          f"ROUGE-L {scores['rougeL']:.2%}, BLEU {scores['bleu']:.2%} (predictions in {predictions_path})")
    return {**scores, "decoding": "beam search" if settings["num_beams"] > 1 else "greedy",
            "max_new_tokens": settings["max_new_tokens"]}


def export(config, version=None, quantize=None):
    """Exports the trained model to `<export.root>/<name>/<version>/`; returns the version directory.

    LoRA adapters are merged into the exported weights; `quantize` (default `export.quantize`) may be "int8".
    """
    quantize = quantize or config.export.quantize
    lm = load_trained(config, quantize)
    num_beams = config.generation.num_beams if config.generation.num_beams > 1 else 4
    server = CausalLMServer(lm, num_beams=num_beams)
    metadata = {"task": config.task, "backbone": config.backbone.source, "context_length": lm.context_length,
                "end_token_id": lm.end_token_id, "signatures": sorted(server.signatures()), "num_beams": num_beams,
                "prompt_format": dataclasses.asdict(lm.prompt_format) if lm.prompt_format else None,
                "lora_rank": config.training.lora_rank, "quantize": quantize}
    return export_job(config, server, metadata, version)
