"""The registry of tasks: what the runner, the CLI, the config checks and `tfllm tasks` read.

Each task declares its `TaskSpec` and config sections in its module of `tfllm.configs`, which imports
no TensorFlow, so that a config is checked (and a typo answered) before TensorFlow loads; the task's
`Task` (see `tfllm.tasks.task`) is imported only when a command runs it.
"""

from tfllm.configs import (causal_lm, chat, conditional_generation, masked_lm, question_answering,
                           relation_extraction, text_classification, text_embedding, token_classification)

TASKS = {module.SPEC.name: module.SPEC for module in (
    text_classification, relation_extraction, token_classification, question_answering, text_embedding, causal_lm,
    chat, conditional_generation, masked_lm)}

BERT_TASKS = tuple(name for name, spec in TASKS.items() if spec.family == "bert")
PRETRAINING_TASKS = ("masked_lm", "causal_lm")  # what `tfllm pretrain` runs


def task_spec(name, where=""):
    """The `TaskSpec` of a task name; a ValueError listing the tasks for any other."""
    if name not in TASKS:
        raise ValueError(f"{where}unknown task {name!r}; supported: {', '.join(TASKS)} (see tfllm tasks)")
    return TASKS[name]
