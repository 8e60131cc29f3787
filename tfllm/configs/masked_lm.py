"""The config of `task: masked_lm`: pretrain a BERT with masked LM (and next-sentence prediction)."""

import dataclasses

from tfllm.configs.sections import DocumentsDataConfig, key
from tfllm.configs.task_spec import TaskSpec


@dataclasses.dataclass
class MaskedLmModel:
    """The pretraining objective."""

    mask_rate: float = key(0.15, "the share of tokens (or words) masked, by the 80/10/10 rule", above=0.0,
                           maximum=0.9)
    max_predictions: int = key(20, "the most masked tokens per sequence", minimum=1)
    whole_word_masking: bool = key(False, "mask all pieces of a chosen word")
    next_sentence_prediction: bool = key(False, "also BERT's next-sentence task (texts of several sentences)")


SPEC = TaskSpec(
    "masked_lm", "pretrain a BERT with masked LM (and next-sentence prediction), from scratch or continued",
    "tfllm.tasks.masked_lm:MaskedLanguageModelingTask", "masked_lm", DocumentsDataConfig, MaskedLmModel,
    command="pretrain", monitors=("loss", "perplexity"))
