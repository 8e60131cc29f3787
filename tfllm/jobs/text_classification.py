"""Train, evaluate, predict and export text classifiers from a `JobConfig` (the CLI calls these).

Relation extraction (`task: relation_extraction`) runs here too: it is classification of texts whose
head and tail entities are marked (see `tfllm.data.relation_reader`).
"""

import keras
import numpy as np

from tfllm.data.labels import LabelSet
from tfllm.data.readers import ColumnSpec, read_text_examples
from tfllm.data.relation_reader import marked_text_examples, read_relation_examples
from tfllm.evaluation.classification_report import (
    classification_report, format_report, multi_label_report, write_report)
from tfllm.jobs.fitting import compile_for_training, fit_and_save
from tfllm.jobs.job_layout import (
    evaluation_dir, export_job, job_strategy, kept_examples, model_dir, split_path, training_scope)
from tfllm.tasks.text_classifier import TextClassifier, build_text_classifier
from tfllm.tasks.text_classifier_serving import SPAN_INPUTS, TextClassifierServer


def _columns(config, labeled=True):
    data = config.data
    return ColumnSpec(text=data.text_column, text_pair=data.text_pair_column,
                      label=data.label_column if labeled else None, multi_label=data.multi_label,
                      label_separator=data.label_separator)


def read_split(config, path, labeled=True):
    """The examples of one data file, read under the config's columns, bad-row policy and `data.limit`.

    Relation extraction: `RelationExample`s (see `marked_text_examples` for their classifier inputs).
    """
    if config.task == "relation_extraction":
        result = read_relation_examples(path, config.data.on_bad_rows, labeled, config.data.label_column)
    else:
        result = read_text_examples(path, _columns(config, labeled), config.data.format, config.data.on_bad_rows,
                                    config.data.column_names)
    return kept_examples(path, result, config.data.limit)


def _classifier_examples(config, path):
    examples = read_split(config, path)
    return marked_text_examples(examples) if config.task == "relation_extraction" else examples


def train(config, verbose="auto"):
    """Fine-tunes a classifier as `config` says and saves it in `<run_dir>/model`.

    A killed run resumes from its last backup when started again (`resumable_fit`).
    Returns the trained `TextClassifier`.
    """
    if not config.data.train:
        raise ValueError(f"{config.path}: data.train is not set")
    strategy = job_strategy(config)
    keras.utils.set_random_seed(config.training.seed)
    train_examples = _classifier_examples(config, config.data.train)
    validation_examples = _classifier_examples(config, config.data.validation) if config.data.validation else None
    labels = config.data.labels or LabelSet.from_examples(train_examples).names
    with training_scope(config, strategy):
        classifier = build_text_classifier(
            config.backbone.source, labels, sequence_length=config.backbone.sequence_length,
            preprocess=config.backbone.preprocess, native=config.backbone.native,
            multi_label=config.data.multi_label, text_pair=bool(config.data.text_pair_column),
            thresholds=config.training.thresholds, dropout=config.training.dropout,
            pooling=config.training.pooling, long_text=config.training.long_text,
            stride=config.data.doc_stride if config.training.long_text else None,
            relation=config.task == "relation_extraction")
        training = config.training
        make = lambda examples, is_training: classifier.make_dataset(  # noqa: E731
            examples, batch_size=training.batch_size, training=is_training, fixed_length=training.fixed_length,
            seed=training.seed, label_field=config.data.label_column)
        train_data = make(train_examples, True)
        validation_data = make(validation_examples, False) if validation_examples else None
        compile_for_training(classifier, config, train_data)
    fit_and_save(classifier, config, train_data, lambda: make(train_examples, True), validation_data,
                 model_dir(config), verbose)
    return classifier


def evaluate(config, split="validation", path=None, classifier=None):
    """Scores the trained model on a labeled split; writes report.json/.txt and confusion_matrix.png.

    Returns the report (a dict).
    """
    path = split_path(config, split, path)
    classifier = classifier or TextClassifier.load(model_dir(config))
    examples = _classifier_examples(config, path)
    probabilities = classifier.predict_probabilities(examples)
    targets = classifier.encode_labels(examples, config.data.label_column)
    names = classifier.labels.names
    if classifier.multi_label:
        report = multi_label_report(targets, probabilities >= np.array(classifier.thresholds), names)
    else:
        report = classification_report(targets, probabilities.argmax(-1), names)
    report["data"] = path
    directory = write_report(report, evaluation_dir(config, split))
    print(format_report(report))
    print(f"report written to {directory}")
    return report


def predict(config, texts, text_pairs=None, classifier=None, spans=None):
    """Predictions for raw texts through the same serving graph that is exported: a list of dicts.

    Relation models need `spans`: per text, (head start, head end, tail start, tail end) in characters.
    """
    classifier = classifier or TextClassifier.load(model_dir(config))
    server = TextClassifierServer(classifier)
    inputs = {"text": np.array(texts, dtype=object)}
    if classifier.text_pair:
        inputs["text_pair"] = np.array(text_pairs or [""] * len(texts), dtype=object)
    if classifier.relation:
        if spans is None or len(spans) != len(texts):
            raise ValueError("a relation model needs the head and tail spans of each text: give --input, a file "
                             "in the relation JSONL format")
        inputs.update(zip(SPAN_INPUTS, np.array(spans, np.int32).reshape(-1, 4).T))
    outputs = {k: v.numpy() for k, v in server.serve(**inputs).items()}
    return [
        {"text": text, "label": outputs["label_names"][i].decode("utf-8"),
         "probabilities": {name: round(float(p), 4) for name, p in zip(classifier.labels.names, outputs["probabilities"][i])}}
        for i, text in enumerate(texts)
    ]


def predict_file(config, path):
    """Predictions for the texts of a data file (labels, if present, are ignored)."""
    examples = read_split(config, path, labeled=False)
    if config.task == "relation_extraction":
        return predict(config, [e.text for e in examples], spans=[(*e.head, *e.tail) for e in examples])
    pairs = [e.text_pair for e in examples] if config.data.text_pair_column else None
    return predict(config, [e.text for e in examples], pairs)


def export(config, version=None):
    """Exports the trained model to `<export.root>/<name>/<version>/`; returns the version directory."""
    classifier = TextClassifier.load(model_dir(config))
    metadata = {"task": config.task, "labels": classifier.labels.names, "multi_label": classifier.multi_label,
                "text_pair": classifier.text_pair, "backbone": config.backbone.source,
                "sequence_length": classifier.preprocessor.sequence_length, "long_text": classifier.long_text,
                "relation": classifier.relation}
    return export_job(config, TextClassifierServer(classifier), metadata, version,
                      ("accuracy", "macro_f1", "micro_f1", "examples"))
