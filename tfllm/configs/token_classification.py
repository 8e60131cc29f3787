"""The config of `task: token_classification`: named entities with character offsets."""

import dataclasses
import typing

from tfllm.configs.sections import DataConfig, DistillationConfig, key
from tfllm.configs.task_spec import TaskSpec
from tfllm.configs.text_classification import DEFAULT_BERT, check_names


@dataclasses.dataclass
class TokenClassificationData(DataConfig):
    """CoNLL column files or CLUENER JSON lines."""

    format: typing.Optional[str] = key(None, "conll | cluener (JSON lines); default: from the extension (.json, "
                                       ".jsonl: cluener)", choices=("conll", "cluener"))


@dataclasses.dataclass
class TokenClassificationModel:
    """The tagger's head."""

    entity_types: typing.Optional[typing.List[str]] = key(None, "entity types; default: those in train")
    tag_scheme: str = key("bio", "word tags: bio | bioes", choices=("bio", "bioes"))


def check_entity_types(config):
    """`model.entity_types` are distinct names that can be served."""
    check_names(config, [(f"model.entity_types[{i}]", name) for i, name in enumerate(config.model.entity_types or [])])


SPEC = TaskSpec(
    "token_classification", "named entities with character offsets (BIO or BIOES tags)",
    "tfllm.tasks.token_classification:TokenClassificationTask", "bert", TokenClassificationData,
    TokenClassificationModel, distillation=DistillationConfig, default_source=DEFAULT_BERT,
    monitors=("entity_f1", "tag_accuracy", "loss"), check=check_entity_types)
