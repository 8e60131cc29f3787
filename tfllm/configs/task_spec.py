"""`TaskSpec`: one task as the runner, the CLI and the config checks see it, declared in its module of
this package beside its own config sections."""

import dataclasses
import importlib
import typing

from tfllm.configs.sections import (BertBackboneConfig, BertTrainingConfig, ExportConfig, GenerationConfig,
                                    Gpt2BackboneConfig, Gpt2TrainingConfig, MaskedLmBackboneConfig,
                                    QuantizedExportConfig)

# The sections a family of tasks shares; a task adds its `data` and `model` sections.
_FAMILY_SECTIONS = {
    "bert": {"backbone": BertBackboneConfig, "training": BertTrainingConfig, "export": QuantizedExportConfig},
    "gpt2": {"backbone": Gpt2BackboneConfig, "training": Gpt2TrainingConfig, "export": QuantizedExportConfig,
             "generation": GenerationConfig},
    "masked_lm": {"backbone": MaskedLmBackboneConfig, "training": BertTrainingConfig, "export": ExportConfig},
}
SECTION_ORDER = ("backbone", "data", "model", "training", "augmentation", "distillation", "export", "generation")
LOWER_IS_BETTER = ("loss", "perplexity")


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """One task as the runner sees it.

    Args:
        name: the config's `task:` value.
        summary: one line for `tfllm tasks`.
        task_path: "module:Class" of the task's `Task` (see `tfllm.tasks.task`); imported only to run it.
        family: "bert" (fine-tunes a BERT source), "gpt2" (a GPT-2 source) or "masked_lm" (pretrains a BERT):
            the `backbone`, `training`, `export` (and `generation`) sections it reads.
        data: the dataclass of its `data:` section.
        model: the dataclass of its `model:` section (the head's settings), or None when it has none.
        export: the dataclass of its `export:` section when it has keys of its own (else the family's).
        augmentation: the dataclass of its `augmentation:` section (training-time remedies for small
            data), or None when it has none.
        distillation: the dataclass of its `distillation:` section (a student trained on a teacher
            run's soft targets), or None when it has none.
        command: the command that trains it: "train", or "pretrain" for pretraining tasks.
        default_source: `backbone.source` when the config sets none.
        monitors: the metrics `training.monitor` may name, its default first: the one that picks the
            checkpoint kept (and exported) and stops training early, on the validation data when there is
            some. Losses and perplexity are better lower, the others higher.
        monitors_for: `monitors_for(config)`, the monitors a config's model offers (its default first),
            where they depend on it (multi-label classifiers have no accuracy); default: `monitors`.
        check: `check(config)`, raising a ValueError where keys of its sections disagree; or None.
    """

    name: str
    summary: str
    task_path: str
    family: str
    data: type
    model: typing.Optional[type] = None
    export: typing.Optional[type] = None
    augmentation: typing.Optional[type] = None
    distillation: typing.Optional[type] = None
    command: str = "train"
    default_source: typing.Optional[str] = None
    monitors: typing.Tuple[str, ...] = ("loss",)
    monitors_for: typing.Optional[typing.Callable] = None
    check: typing.Optional[typing.Callable] = None

    def sections(self):
        """{section name: dataclass} of every section this task reads, in the order configs write them."""
        sections = {**_FAMILY_SECTIONS[self.family], "data": self.data}
        if self.model is not None:
            sections["model"] = self.model
        if self.export is not None:
            sections["export"] = self.export
        if self.augmentation is not None:
            sections["augmentation"] = self.augmentation
        if self.distillation is not None:
            sections["distillation"] = self.distillation
        return {name: sections[name] for name in SECTION_ORDER if name in sections}

    def config_monitors(self, config):
        """The metrics `training.monitor` may name for `config`, its default first."""
        return tuple(self.monitors_for(config)) if self.monitors_for else self.monitors

    def task(self):
        """The task's `Task` (its module, and TensorFlow, are imported now)."""
        module, _, name = self.task_path.partition(":")
        return getattr(importlib.import_module(module), name)()

    @property
    def generates(self):
        """The task's models write text (`tfllm generate`, `chat`, LoRA, int8 export)."""
        return self.family == "gpt2"

    @property
    def predicts(self):
        """`tfllm predict` answers raw texts with labels, entities or answers."""
        return self.family == "bert"
