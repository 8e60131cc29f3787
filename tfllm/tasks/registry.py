"""The registry of tasks: what the runner, the CLI, the config checks and `tfllm tasks` read.

It imports no TensorFlow, so that a config is checked (and a typo answered) before TensorFlow loads;
a task's module (see `tfllm.tasks.task`) is imported only when a command runs it.
"""

import dataclasses
import importlib
import typing


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """One task as the runner sees it.

    Args:
        name: the config's `task:` value.
        summary: one line for `tfllm tasks`.
        task_path: "module:Class" of the task's `Task` (see `tfllm.tasks.task`).
        family: "bert" (fine-tunes a BERT source), "gpt2" (a GPT-2 source) or "masked_lm" (pretrains a BERT).
        command: the command that trains it: "train", or "pretrain" for pretraining tasks.
        default_source: `backbone.source` when the config sets none.
        defaults: {section: {key: value}}, the task's own defaults over the sections' general ones.
        monitors: the metrics `training.monitor` may name, its default first: the one that picks the
            checkpoint kept (and exported) and stops training early, on the validation data when there is
            some. Losses and perplexity are better lower, the others higher.
    """

    name: str
    summary: str
    task_path: str
    family: str
    command: str = "train"
    default_source: typing.Optional[str] = None
    defaults: typing.Mapping[str, typing.Mapping[str, object]] = dataclasses.field(default_factory=dict)
    monitors: typing.Tuple[str, ...] = ("loss",)

    def task(self):
        """The task's `Task` (its module is imported now)."""
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


_DEFAULT_BERT = "all-minilm-l6-v2"
_CLASSIFIER_MONITORS = ("accuracy", "macro_f1", "micro_f1", "loss")  # multi-label: micro_f1 by default
_LM_MONITORS = ("loss", "perplexity")
LOWER_IS_BETTER = ("loss", "perplexity")

TASKS = {spec.name: spec for spec in (
    TaskSpec("text_classification", "labels for texts or text pairs: single-label, multi-label, long texts",
             "tfllm.tasks.text_classification:TextClassificationTask", "bert", default_source=_DEFAULT_BERT,
             monitors=_CLASSIFIER_MONITORS),
    TaskSpec("relation_extraction", "the relation between a marked head and tail entity in a text",
             "tfllm.tasks.relation_extraction:RelationExtractionTask", "bert", default_source=_DEFAULT_BERT,
             defaults={"data": {"label_column": "relation"}, "training": {"pooling": "markers"}},
             monitors=_CLASSIFIER_MONITORS),
    TaskSpec("token_classification", "named entities with character offsets (BIO or BIOES tags)",
             "tfllm.tasks.token_classification:TokenClassificationTask", "bert", default_source=_DEFAULT_BERT,
             monitors=("entity_f1", "tag_accuracy", "loss")),
    TaskSpec("question_answering", "extractive QA: answer spans of contexts of any length (SQuAD format)",
             "tfllm.tasks.question_answering:QuestionAnsweringTask", "bert", default_source=_DEFAULT_BERT,
             monitors=("f1", "exact_match", "loss")),
    TaskSpec("causal_lm", "GPT-2 on plain text: fine-tune, pretrain from scratch, generate",
             "tfllm.tasks.causal_lm:CausalLanguageModelingTask", "gpt2", monitors=_LM_MONITORS),
    TaskSpec("chat", "GPT-2 on multi-turn dialogues, the loss on the replies",
             "tfllm.tasks.chat:ChatTask", "gpt2", monitors=_LM_MONITORS),
    TaskSpec("conditional_generation", "GPT-2 from source to target text: summaries, translations",
             "tfllm.tasks.conditional_generation:ConditionalGenerationTask", "gpt2", monitors=_LM_MONITORS),
    TaskSpec("masked_lm", "pretrain a BERT with masked LM (and next-sentence prediction), from scratch or "
             "continued", "tfllm.tasks.masked_lm:MaskedLanguageModelingTask", "masked_lm", command="pretrain"),
)}

BERT_TASKS = tuple(name for name, spec in TASKS.items() if spec.family == "bert")
GPT2_TASKS = tuple(name for name, spec in TASKS.items() if spec.family == "gpt2")
PRETRAINING_TASKS = ("masked_lm", "causal_lm")  # what `tfllm pretrain` runs


def task_spec(name, where=""):
    """The `TaskSpec` of a task name; a ValueError listing the tasks for any other."""
    if name not in TASKS:
        raise ValueError(f"{where}unknown task {name!r}; supported: {', '.join(TASKS)} (see tfllm tasks)")
    return TASKS[name]
