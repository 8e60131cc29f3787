"""The config of `task: relation_extraction`: the relation between a marked head and tail entity."""

import dataclasses
import typing

from tfllm.configs.sections import DataConfig, key
from tfllm.configs.task_spec import TaskSpec
from tfllm.configs.text_classification import CLASSIFIER_MONITORS, DEFAULT_BERT, check_label_names


@dataclasses.dataclass
class RelationExtractionData(DataConfig):
    """JSON lines of `text`, `head` and `tail` spans and a relation."""

    label_column: str = key("relation", "the relation field")


@dataclasses.dataclass
class RelationExtractionModel:
    """The relation classifier's head."""

    labels: typing.Optional[typing.List[str]] = key(None, "the relation names in id order; default: those in train")
    pooling: str = key("markers", "markers (the marked head's and tail's vectors) | cls | mean",
                       choices=("markers", "cls", "mean"))


SPEC = TaskSpec(
    "relation_extraction", "the relation between a marked head and tail entity in a text",
    "tfllm.tasks.relation_extraction:RelationExtractionTask", "bert", RelationExtractionData,
    RelationExtractionModel, default_source=DEFAULT_BERT, monitors=CLASSIFIER_MONITORS, check=check_label_names)
