"""Text classification: labels for texts or text pairs, single- or multi-label, long texts read whole."""

import dataclasses

import numpy as np

from tfllm.data.labels import LabelSet, label_name_problem
from tfllm.data.readers import ColumnSpec, ReadResult, apply_bad_row_policy, read_text_examples
from tfllm.evaluation.classification_report import (classification_report, format_report, multi_label_report,
                                                     write_predictions)
from tfllm.models.text_classifier import TextClassifier
from tfllm.tasks.task import BertTask, kept_examples


class TextClassificationTask(BertTask):
    """A `TextClassifier` fine-tuned on labeled CSV/TSV/JSONL rows; served as `TextClassifierServer`.

    Predictions are rows of `text`, `label` (multi-label: `labels`, a list) and `probabilities` by label.
    """

    model_class = TextClassifier
    report_keys = ("accuracy", "macro_f1", "micro_f1", "examples")
    relation = False  # the texts' head and tail entities are marked (RelationExtractionTask)

    def read(self, config, path, labeled=True):
        data = config.data
        columns = ColumnSpec(text=data.text_column, text_pair=data.text_pair_column,
                             label=data.label_column if labeled else None, multi_label=config.model.multi_label,
                             label_separator=data.label_separator,
                             group=data.group_column if labeled else None)  # groups only split reports
        result = read_text_examples(path, columns, data.format, data.on_bad_rows, data.column_names)
        examples = kept_examples(path, result, data.limit)
        if not labeled or not data.label_names:
            return examples
        names = data.label_names
        examples = self.with_known_labels(config, path, examples, LabelSet(list(names)))
        return [dataclasses.replace(example, label=tuple(names[code] for code in example.label)
                                    if isinstance(example.label, tuple) else names[example.label])
                for example in examples]

    def splits(self, config):
        """(train, validation) examples; rows whose labels the model will not have (not in `model.labels`,
        or validation labels train never shows) are bad rows, found here, before any model loads."""
        train, validation = super().splits(config)
        labels = LabelSet(self.label_names(config, train))
        multi_label = getattr(config.model, "multi_label", False)  # relation models have one label per text
        named_in_config = config.model.labels or getattr(config.data, "label_names", None)
        where = ("model.labels names" if config.model.labels else "data.label_names names" if named_in_config
                 else f"data.train's column {config.data.label_column!r} holds")
        if len(labels) < 2 and not multi_label:  # e.g. label_column names a column of one value
            hint = (" (model.multi_label: true makes a yes/no detector of one)"
                    if hasattr(config.model, "multi_label") else "")
            raise ValueError(f"{config.path}: {where} one label, {labels.names[0]!r}: a single-label classifier "
                             f"chooses among two or more{hint}")
        for name in [] if named_in_config else labels.names:  # the config's names were checked when it was read
            problem = label_name_problem(name, multi_label)
            if problem:
                raise ValueError(f"{config.path}: {where} the label {name!r}, which {problem}; data.label_names can "
                                 "name it otherwise")
        train = self.with_known_labels(config, config.data.train, train, labels)
        if validation is not None:
            validation = self.with_known_labels(config, config.data.validation, validation, labels)
        return train, validation

    def label_names(self, config, train_examples):
        """The model's labels in id order: `model.labels`, else the names of `data.label_names` in its order,
        else those of the training examples."""
        if config.model.labels:
            return config.model.labels
        if getattr(config.data, "label_names", None):
            return list(dict.fromkeys(config.data.label_names.values()))
        return LabelSet.from_examples(train_examples).names

    def with_known_labels(self, config, path, examples, labels):
        """`examples` without those whose labels are not in `labels`: a DataError listing them, or
        under `on_bad_rows: skip` left out and counted like every other bad row."""
        bad_rows = labels.unknown(examples, config.data.label_column)
        if not bad_rows:
            return examples
        unknown = {f"{row.path}:{row.line}" for row in bad_rows}
        kept = [example for example in examples if example.source not in unknown]
        apply_bad_row_policy(ReadResult(kept, bad_rows), config.data.on_bad_rows, path)  # the readers' own rule
        print(f"{path}: skipped {len(bad_rows)} row(s) with unknown labels (listed in the log above)")
        return kept

    def evaluate(self, config, model, examples, directory, server=None):
        path = examples[0].source.rpartition(":")[0] if examples else config.path
        return super().evaluate(config, model, self.with_known_labels(config, path, examples, model.labels),
                                directory, server)

    def build(self, config, train_examples):
        return TextClassifier(self.bert(config, train_examples), self.label_names(config, train_examples),
                              dropout=config.training.dropout, relation=self.relation, **self.head(config))

    def head(self, config):
        """`TextClassifier` keywords of the config's `model` section (and the data's second text)."""
        model = config.model
        return dict(multi_label=model.multi_label, text_pair=bool(config.data.text_pair_column),
                    thresholds=model.thresholds, pooling=model.pooling, long_text=model.long_text,
                    stride=model.doc_stride if model.long_text else None)

    def texts(self, examples):
        return [text for example in self.training_examples(examples) for text in (example.text, example.text_pair)
                if text]

    def cut_inputs(self, config, examples):
        if getattr(config.model, "long_text", None):
            return []  # read whole, in windows
        return [(example.text, example.text_pair) for example in self.training_examples(examples)]

    def cut_advice(self, config):
        if self.relation:
            return "; an entity past the cut is not seen: raise backbone.sequence_length"
        return "; raise backbone.sequence_length, or set model.long_text (mean or max) to read them whole, in windows"

    def training_examples(self, examples):
        """The `TextExample`s the classifier learns from (relation examples mark their entities)."""
        return examples

    def dataset(self, config, model, examples, training):
        unlabeled = getattr(config.distillation, "unlabeled", None) if training else None
        return model.make_dataset(self.training_examples(examples), batch_size=config.training.batch_size,
                                  training=training, fixed_length=config.training.fixed_length,
                                  seed=config.training.seed, label_field=config.data.label_column,
                                  augmentation=self.augmentation(config),
                                  unlabeled=self.read(config, unlabeled, labeled=False) if unlabeled else ())

    def augmentation(self, config):
        """`make_dataset`'s augmentation keywords from the config's `augmentation` section (None without one)."""
        if config.augmentation is None:
            return None
        names = ("token_cutoff", "span_cutoff", "local_swaps", "keyword_cutoff")
        return {name: getattr(config.augmentation, name) for name in names}

    def compile_options(self, config):
        augmentation = config.augmentation
        if augmentation is None:
            return {}
        return {"consistency": augmentation.consistency, "label_smoothing": augmentation.label_smoothing}

    def score(self, config, model, examples, rows, directory):
        names = model.labels.names
        targets = model.encode_labels(self.training_examples(examples), config.data.label_column)
        if model.multi_label:
            predicted = np.array([[name in row["labels"] for name in names] for row in rows], np.int32)
            report_of = multi_label_report
        else:
            predicted = np.array([model.labels.id(row["label"]) for row in rows])
            report_of = classification_report
        report = report_of(targets, predicted, names)
        write_predictions(({"source": example.source, **row, "gold": list(example.label) if model.multi_label
                            else example.label} for example, row in zip(examples, rows)), directory)
        group_column = getattr(config.data, "group_column", None)  # relation data has none
        if group_column:
            groups = np.array([example.group for example in examples])
            report["group_column"] = group_column
            # Macro F1 would average in labels a group lacks: a group keeps the scores of its own examples.
            kept = ("micro_f1", "exact_match", "examples") if model.multi_label else ("accuracy", "examples")
            report["groups"] = {
                group: {key: report_of(targets[groups == group], predicted[groups == group], names)[key] for key in kept}
                for group in sorted(set(groups))}
        return report

    def summary(self, report):
        return format_report(report)

    def metadata(self, config, model, server):
        return {"labels": model.labels.names, "multi_label": model.multi_label, "text_pair": model.text_pair,
                "sequence_length": model.preprocessor.sequence_length, "long_text": model.long_text,
                "relation": model.relation}
