"""The config of `task: causal_lm`: GPT-2 on plain text, fine-tuned or trained from scratch."""

from tfllm.configs.sections import DocumentsDataConfig
from tfllm.configs.task_spec import TaskSpec

LM_MONITORS = ("loss", "perplexity")

SPEC = TaskSpec(
    "causal_lm", "GPT-2 on plain text: fine-tune, pretrain from scratch, generate",
    "tfllm.tasks.causal_lm:CausalLanguageModelingTask", "gpt2", DocumentsDataConfig, command="train",
    monitors=LM_MONITORS)
