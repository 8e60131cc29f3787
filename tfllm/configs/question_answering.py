"""The config of `task: question_answering`: extractive QA over contexts of any length."""

import dataclasses

from tfllm.configs.sections import DataConfig, key
from tfllm.configs.task_spec import TaskSpec
from tfllm.configs.text_classification import DEFAULT_BERT


@dataclasses.dataclass
class QuestionAnsweringData(DataConfig):
    """SQuAD v1.1-format JSON files (XQuAD too)."""


@dataclasses.dataclass
class QuestionAnsweringModel:
    """How the reader windows contexts and which spans it answers."""

    max_question_length: int = key(64, "question pieces kept", minimum=1)
    doc_stride: int = key(128, "context pieces between window starts", minimum=1)
    max_answer_length: int = key(30, "the longest answer, in pieces", minimum=1)


SPEC = TaskSpec(
    "question_answering", "extractive QA: answer spans of contexts of any length (SQuAD format)",
    "tfllm.tasks.question_answering:QuestionAnsweringTask", "bert", QuestionAnsweringData, QuestionAnsweringModel,
    default_source=DEFAULT_BERT, monitors=("f1", "exact_match", "loss"))
