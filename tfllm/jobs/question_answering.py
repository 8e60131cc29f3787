"""Train, evaluate, predict and export extractive QA readers from a `JobConfig` (the CLI calls these)."""

import keras
import tensorflow as tf

from tfllm.data.squad_reader import read_squad
from tfllm.evaluation.classification_report import write_predictions, write_report
from tfllm.evaluation.squad_metrics import squad_scores
from tfllm.jobs.fitting import compile_for_training, fit_and_save
from tfllm.jobs.job_layout import (
    evaluation_dir, export_job, job_strategy, kept_examples, model_dir, split_path, training_scope)
from tfllm.tasks.span_extractor import SpanExtractor, build_span_extractor
from tfllm.tasks.span_extractor_serving import SpanExtractorServer

_PREDICT_BATCH = 16


def read_split(config, path, labeled=True):
    """The `QAExample`s of one SQuAD-format file, under the config's bad-row policy and limit."""
    return kept_examples(path, read_squad(path, config.data.on_bad_rows, labeled=labeled), config.data.limit)


def train(config, verbose="auto"):
    """Fine-tunes a reader as `config` says and saves it in `<run_dir>/model`; returns the `SpanExtractor`."""
    if not config.data.train:
        raise ValueError(f"{config.path}: data.train is not set")
    strategy = job_strategy(config)
    keras.utils.set_random_seed(config.training.seed)
    train_examples = read_split(config, config.data.train)
    validation_examples = read_split(config, config.data.validation) if config.data.validation else None
    data, training = config.data, config.training
    with training_scope(config, strategy):
        reader = build_span_extractor(
            config.backbone.source, sequence_length=config.backbone.sequence_length, preprocess=config.backbone.preprocess,
            native=config.backbone.native, max_question_length=data.max_question_length, stride=data.doc_stride,
            max_answer_length=data.max_answer_length, dropout=training.dropout)
        make = lambda examples, is_training: reader.make_dataset(  # noqa: E731
            examples, batch_size=training.batch_size, training=is_training, fixed_length=training.fixed_length,
            seed=training.seed)
        train_data = make(train_examples, True)
        validation_data = make(validation_examples, False) if validation_examples else None
        compile_for_training(reader, config, train_data)
    fit_and_save(reader, config, train_data, lambda: make(train_examples, True), validation_data,
                 model_dir(config), verbose)
    return reader


def predict(config, questions, contexts, reader=None):
    """Answers through the same serving graph that is exported: per pair, a dict of `question`, `answer`,
    `score` and the answer's character `start` and `end` in the context."""
    reader = reader or SpanExtractor.load(model_dir(config))
    serve = SpanExtractorServer(reader).serve
    rows = []
    for begin in range(0, len(questions), _PREDICT_BATCH):
        batch = slice(begin, begin + _PREDICT_BATCH)
        outputs = {k: v.numpy() for k, v in serve(tf.constant(questions[batch], tf.string),
                                                  tf.constant(contexts[batch], tf.string)).items()}
        for i, question in enumerate(questions[batch]):
            rows.append({"question": question, "answer": outputs["answer"][i].decode("utf-8", "replace"),
                         "score": round(float(outputs["score"][i]), 4), "start": int(outputs["start"][i]),
                         "end": int(outputs["end"][i])})
    return rows


def evaluate(config, split="validation", path=None, reader=None):
    """Exact match and F1 (SQuAD normalization) on a labeled split; writes report.json and predictions.jsonl.

    Returns the report (a dict).
    """
    path = split_path(config, split, path)
    reader = reader or SpanExtractor.load(model_dir(config))
    examples = read_split(config, path)
    rows = predict(config, [e.question for e in examples], [e.context for e in examples], reader)
    report = squad_scores([row["answer"] for row in rows], [[a.text for a in e.answers] for e in examples])
    report["data"] = path
    directory = write_report(report, evaluation_dir(config, split))
    write_predictions(({"id": example.id, **row, "gold": [a.text for a in example.answers]}
                       for example, row in zip(examples, rows)), directory)
    print(f"{path}: exact match {report['exact_match']:.2f}, F1 {report['f1']:.2f} over {report['examples']} questions")
    print(f"report and predictions written to {directory}")
    return report


def predict_file(config, path):
    """Answers for the questions of a SQuAD-format file (its answers, if any, are ignored)."""
    examples = read_split(config, path, labeled=False)
    return predict(config, [e.question for e in examples], [e.context for e in examples])


def export(config, version=None):
    """Exports the trained reader to `<export.root>/<name>/<version>/`; returns the version directory."""
    reader = SpanExtractor.load(model_dir(config))
    metadata = {"task": config.task, "backbone": config.backbone.source,
                "sequence_length": reader.preprocessor.sequence_length, "doc_stride": reader.stride,
                "max_question_length": reader.max_question_length, "max_answer_length": reader.max_answer_length}
    return export_job(config, SpanExtractorServer(reader), metadata, version, ("exact_match", "f1", "examples"))
