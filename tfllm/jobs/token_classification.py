"""Train, evaluate, predict and export named-entity taggers from a `JobConfig` (the CLI calls these)."""

import keras
import tensorflow as tf

from tfllm.data.entity_readers import read_entity_examples
from tfllm.evaluation.classification_report import format_report, write_predictions, write_report
from tfllm.evaluation.entity_metrics import entity_report
from tfllm.jobs.fitting import compile_for_training, fit_and_save
from tfllm.jobs.job_layout import (
    evaluation_dir, export_job, job_strategy, kept_examples, model_dir, split_path, training_scope)
from tfllm.tasks.token_classifier import TokenClassifier, build_token_classifier
from tfllm.tasks.token_classifier_serving import TokenClassifierServer

_PREDICT_BATCH = 64


def read_split(config, path):
    """The `EntityExample`s of one data file, read under the config's format and bad-row policy."""
    return kept_examples(path, read_entity_examples(path, config.data.format, config.data.on_bad_rows),
                         config.data.limit)


def train(config, verbose="auto"):
    """Fine-tunes a tagger as `config` says and saves it in `<run_dir>/model`; returns the `TokenClassifier`.

    The entity types are `data.entity_types`, or those seen in the training data.
    """
    if not config.data.train:
        raise ValueError(f"{config.path}: data.train is not set")
    strategy = job_strategy(config)
    keras.utils.set_random_seed(config.training.seed)
    train_examples = read_split(config, config.data.train)
    validation_examples = read_split(config, config.data.validation) if config.data.validation else None
    types = config.data.entity_types or sorted({e.type for example in train_examples for e in example.entities})
    with training_scope(config, strategy):
        tagger = build_token_classifier(
            config.backbone.source, types, sequence_length=config.backbone.sequence_length,
            preprocess=config.backbone.preprocess, native=config.backbone.native, scheme=config.data.tag_scheme,
            dropout=config.training.dropout)
        training = config.training
        make = lambda examples, is_training: tagger.make_dataset(  # noqa: E731
            examples, batch_size=training.batch_size, training=is_training, fixed_length=training.fixed_length,
            seed=training.seed)
        train_data = make(train_examples, True)
        validation_data = make(validation_examples, False) if validation_examples else None
        compile_for_training(tagger, config, train_data)
    fit_and_save(tagger, config, train_data, lambda: make(train_examples, True), validation_data,
                 model_dir(config), verbose)
    return tagger


def predict(config, texts, tagger=None):
    """Entities of raw texts through the same serving graph that is exported: per text, a dict with the
    `text` and its `entities`, each a dict of `text`, `type`, character `start` and `end`, and `score`."""
    tagger = tagger or TokenClassifier.load(model_dir(config))
    serve = TokenClassifierServer(tagger).serve
    rows = []
    for begin in range(0, len(texts), _PREDICT_BATCH):
        outputs = {k: v.numpy() for k, v in serve(tf.constant(texts[begin:begin + _PREDICT_BATCH], tf.string)).items()}
        for i, count in enumerate(outputs["entity_count"]):
            entities = [{"text": outputs["entity_text"][i, j].decode("utf-8", "replace"),
                         "type": outputs["entity_type"][i, j].decode("utf-8"),
                         "start": int(outputs["entity_start"][i, j]), "end": int(outputs["entity_end"][i, j]),
                         "score": round(float(outputs["entity_score"][i, j]), 4)} for j in range(count)]
            rows.append({"text": texts[begin + i], "entities": entities})
    return rows


def evaluate(config, split="validation", path=None, tagger=None):
    """Entity-level strict P/R/F1 on a labeled split; writes report.json/.txt and predictions.jsonl.

    Returns the report (a dict).
    """
    path = split_path(config, split, path)
    tagger = tagger or TokenClassifier.load(model_dir(config))
    examples = read_split(config, path)
    predictions = predict(config, [e.text for e in examples], tagger)
    gold = [[(e.start, e.end, e.type) for e in example.entities] for example in examples]
    report = entity_report(gold, [[(p["start"], p["end"], p["type"]) for p in row["entities"]] for row in predictions],
                           tagger.tags.types)
    report["data"] = path
    directory = write_report(report, evaluation_dir(config, split))
    write_predictions(({"source": example.source, "text": example.text, "entities": row["entities"],
                        "gold": [{"text": example.text[e.start:e.end], "type": e.type, "start": e.start, "end": e.end}
                                 for e in example.entities]} for example, row in zip(examples, predictions)), directory)
    print(format_report(report))
    print(f"report and predictions written to {directory}")
    return report


def predict_file(config, path):
    """Entities for the texts of a data file (its gold entities, if any, are ignored)."""
    return predict(config, [e.text for e in read_split(config, path)])


def export(config, version=None):
    """Exports the trained tagger to `<export.root>/<name>/<version>/`; returns the version directory."""
    tagger = TokenClassifier.load(model_dir(config))
    metadata = {"task": config.task, "entity_types": tagger.tags.types, "tag_scheme": tagger.tags.scheme,
                "backbone": config.backbone.source, "sequence_length": tagger.preprocessor.sequence_length}
    return export_job(config, TokenClassifierServer(tagger), metadata, version, ("precision", "recall", "micro_f1", "examples"))
