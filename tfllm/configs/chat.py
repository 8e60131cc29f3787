"""The config of `task: chat`: GPT-2 on multi-turn dialogues, the loss on the replies."""

import dataclasses
import typing

from tfllm.configs.causal_lm import LM_MONITORS
from tfllm.configs.sections import HeldOutDataConfig, key
from tfllm.configs.task_spec import TaskSpec


@dataclasses.dataclass
class ChatData(HeldOutDataConfig):
    """Dialogues: JSON lines of turns, DailyDialog or LCCC files."""

    format: typing.Optional[str] = key(None, "jsonl | json | tsv | dailydialog; default: from the extension",
                                       choices=("jsonl", "json", "tsv", "dailydialog"))
    turns_field: str = key("turns", "the list of turns of a JSONL row")
    remove_spaces: bool = key(False, "join character-segmented Chinese such as LCCC")


SPEC = TaskSpec("chat", "GPT-2 on multi-turn dialogues, the loss on the replies", "tfllm.tasks.chat:ChatTask",
                "gpt2", ChatData, monitors=LM_MONITORS)
