"""The config of `task: conditional_generation`: GPT-2 from a source to a target text (summaries,
translations)."""

import dataclasses
import typing

from tfllm.configs.causal_lm import LM_MONITORS
from tfllm.configs.sections import TABLE_FORMATS, HeldOutDataConfig, key
from tfllm.configs.task_spec import TaskSpec


@dataclasses.dataclass
class ConditionalGenerationData(HeldOutDataConfig):
    """(source, target) rows of CSV/TSV/JSON(L) files."""

    format: typing.Optional[str] = key(None, "csv | tsv | jsonl | json; default: from the extension",
                                       choices=TABLE_FORMATS)
    source_column: str = key("source", "the input text")
    target_column: str = key("target", "the text to generate from it")
    column_names: typing.Optional[typing.List[str]] = key(None, "the columns of a CSV/TSV without a header row")


@dataclasses.dataclass
class ConditionalGenerationModel:
    """The prompt the model is trained and served with: source_prefix + source + target_prefix."""

    source_prefix: str = key("", "text before the source")
    target_prefix: str = key("\nTarget:", "text between the source and the target")


SPEC = TaskSpec(
    "conditional_generation", "GPT-2 from source to target text: summaries, translations",
    "tfllm.tasks.conditional_generation:ConditionalGenerationTask", "gpt2", ConditionalGenerationData,
    ConditionalGenerationModel, monitors=LM_MONITORS)
