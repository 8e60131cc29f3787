"""The config sections every task shares, and their family variants (BERT, GPT-2, masked LM).

Every key is a dataclass field made by `key`: a default, one line of documentation and its allowed
values, which `tfllm.configs.job` checks when a file is read. A task's own keys are declared in its
module of this package (`tfllm.configs.<task>`), as subclasses of the sections here and its `model`
section. Nothing here imports TensorFlow.
"""

import dataclasses
import typing

SCRATCH_SOURCE = "scratch"  # backbone.source of a model trained from scratch (GPT-2, or BERT in masked_lm)
STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "multi_worker", "tpu")  # training.strategy, see tfllm.training.strategy
TABLE_FORMATS = ("csv", "tsv", "jsonl", "json")  # rows of fields: see tfllm.data.readers
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")  # training.precision, see tfllm.training.precision


def key(default, doc, minimum=None, maximum=None, above=None, choices=None):
    """A config key: its default, one line of documentation and its allowed values (`minimum`/`maximum`
    inclusive, `above` exclusive, or `choices`)."""
    factory = {"default_factory": lambda: list(default)} if isinstance(default, list) else {"default": default}
    return dataclasses.field(**factory, metadata={"doc": doc, "minimum": minimum, "maximum": maximum,
                                                  "above": above, "choices": choices})


# backbone: where the model starts.

@dataclasses.dataclass
class BackboneConfig:
    """Where the model starts."""

    source: typing.Optional[str] = key(None, "where the weights come from")
    sequence_length: int = key(128, "the most tokens per input", minimum=2)


@dataclasses.dataclass
class BertBackboneConfig(BackboneConfig):
    """A pretrained BERT encoder and its WordPiece preprocessor."""

    source: typing.Optional[str] = key(None, "a TF-Hub handle or dir, KerasHub preset or preset dir, Hugging Face "
                                       "BERT dir, or a tfllm pretrain model dir (default all-minilm-l6-v2)")
    sequence_length: int = key(128, "the most tokens per input, [CLS] and [SEP] included", minimum=2)

    preprocess: typing.Optional[str] = key(None, "the preprocess model of a TF-Hub encoder outside the handle table")
    native: bool = key(True, "convert TF-Hub BERT encoders to a native Keras backbone (XLA, mixed precision, TPU)")
    add_characters: bool = key(False, "give the CJK characters and punctuation of data.train that the WordPiece "
                               "vocabulary lacks its free [unusedN] slots (an English model on Chinese text), "
                               "their embeddings learned in fine-tuning")


@dataclasses.dataclass
class Gpt2BackboneConfig(BackboneConfig):
    """A pretrained GPT-2, or one trained from scratch with a byte-level BPE vocabulary of data.train."""

    source: typing.Optional[str] = key(None, "a KerasHub preset (gpt2_base_en) or preset dir, a Hugging Face GPT-2 "
                                       "dir, or scratch for a new model")
    sequence_length: int = key(128, "the training window, in tokens", minimum=2)

    size: str = key("mini", "scratch model size: tiny | mini | small | base",
                    choices=("tiny", "mini", "small", "base"))
    vocabulary_size: int = key(8000, "scratch: tokens in the BPE vocabulary trained on data.train (at least 258: "
                               "the bytes, one merge and <|endoftext|>)", minimum=258)
    context_length: int = key(256, "scratch: the longest prompt + generation", minimum=2)


@dataclasses.dataclass
class MaskedLmBackboneConfig(BackboneConfig):
    """A BERT to continue pretraining, or one trained from scratch with a WordPiece vocabulary of data.train."""

    source: typing.Optional[str] = key(None, "any BERT source with a WordPiece vocabulary (continued pretraining), "
                                       "or scratch for a new model")
    sequence_length: int = key(128, "the training window, in tokens", minimum=2)

    preprocess: typing.Optional[str] = key(None, "the preprocess model of a TF-Hub encoder outside the handle table")
    native: bool = key(True, "convert TF-Hub BERT encoders to a native Keras backbone (XLA, mixed precision, TPU)")
    size: str = key("mini", "scratch model size: tiny | mini | small | medium | base",
                    choices=("tiny", "mini", "small", "medium", "base"))
    vocabulary_size: int = key(8000, "scratch: tokens in the WordPiece vocabulary trained on data.train (over 15, "
                               "its reserved tokens)", minimum=16)
    lowercase: bool = key(True, "scratch: an uncased WordPiece vocabulary")
    context_length: int = key(256, "scratch: positions of the new BERT", minimum=2)


# data: which files to read, and how.

@dataclasses.dataclass
class DataConfig:
    """Which files to read, and how."""

    train: typing.Optional[str] = key(None, "training file (relative to the config file, or a URL)")
    validation: typing.Optional[str] = key(None, "validation file: early stopping, the best checkpoint, evaluate")
    test: typing.Optional[str] = key(None, "test file (tfllm evaluate --split test)")
    on_bad_rows: str = key("error", "error: stop at bad rows, listing them; skip: leave them out, counted",
                           choices=("error", "skip"))
    limit: typing.Optional[int] = key(None, "read only the first N examples of each file (quick runs)", minimum=1)


@dataclasses.dataclass
class HeldOutDataConfig(DataConfig):
    """Data of a language model, whose validation data may be a share of train."""

    validation_split: typing.Optional[float] = key(
        None, "without data.validation: hold out this share of train (the last one; conditional_generation: a "
        "seeded random one)", above=0.0, maximum=0.5)


@dataclasses.dataclass
class DocumentsDataConfig(HeldOutDataConfig):
    """Plain-text documents: a .txt file, or one text field of CSV/TSV/JSONL rows."""

    format: typing.Optional[str] = key(None, "text | csv | tsv | jsonl | json; default: from the extension (.txt: "
                                       "text)", choices=("text",) + TABLE_FORMATS)
    text_column: str = key("text", "the text field")
    column_names: typing.Optional[typing.List[str]] = key(None, "the columns of a CSV/TSV without a header row")
    document_separator: typing.Optional[str] = key(None, "between documents of a .txt file (default: none)")


# training: how `fit` runs.

@dataclasses.dataclass
class TrainingConfig:
    """How `fit` runs."""

    epochs: int = key(3, "passes over the training data", minimum=1)
    batch_size: int = key(32, "examples (or windows) per step, over all replicas", minimum=1)
    learning_rate: float = key(5e-5, "the peak learning rate (AdamW, linear warmup and decay)", above=0.0)
    warmup_fraction: float = key(0.1, "share of the steps spent warming up", minimum=0.0, maximum=0.5)
    weight_decay: float = key(0.01, "AdamW's decoupled weight decay (not on norms and biases)", minimum=0.0)
    dropout: float = key(0.1, "dropout in the backbone and before the head", minimum=0.0, maximum=0.9)
    monitor: typing.Optional[str] = key(None, "the metric that picks the checkpoint kept and exported, and stops "
                                        "early, on the validation data (default: the task's main one)")
    early_stopping_patience: typing.Optional[int] = key(2, "epochs without improvement of training.monitor before "
                                                        "stopping (null: never)", minimum=1)
    strategy: str = key("auto", "auto | cpu | gpu | mirrored | multi_worker (TF_CONFIG) | tpu", choices=STRATEGIES)
    tpu: typing.Optional[str] = key(None, "strategy tpu: the TPU's name, grpc:// address, or local")
    backup_every_steps: typing.Optional[int] = key(500, "back up every N steps and at epoch ends; a killed run "
                                                   "resumes from the last (null: epoch ends only)", minimum=1)
    steps_per_execution: int = key(1, "batches per compiled call: fewer host round trips (TPU: 32 or more)",
                                   minimum=1)
    precision: str = key("float32", "float32 | mixed_bfloat16 | mixed_float16 | auto", choices=PRECISIONS)
    seed: int = key(42, "seeds weights, dropout and the data order", minimum=0, maximum=2**32 - 1)


@dataclasses.dataclass
class BertTrainingConfig(TrainingConfig):
    """Training of a BERT: batches bucketed by length, or padded to one shape for TPUs."""

    fixed_length: bool = key(False, "pad every batch to sequence_length (TPU); default: bucket by length")


@dataclasses.dataclass
class Gpt2TrainingConfig(TrainingConfig):
    """Training of a GPT-2: all its weights, or LoRA adapters only."""

    lora_rank: typing.Optional[int] = key(None, "train LoRA adapters of this rank on a frozen pretrained backbone",
                                          minimum=1)


@dataclasses.dataclass
class AugmentationConfig:
    """Remedies for small training sets, on training batches only; all off by default."""

    token_cutoff: float = key(0.0, "share of word pieces hidden from the model in each training text, drawn "
                              "anew each epoch (token cutoff)", minimum=0.0, maximum=0.5)
    span_cutoff: float = key(0.0, "share of each training text hidden as one contiguous span (span cutoff)",
                             minimum=0.0, maximum=0.5)
    local_swaps: float = key(0.0, "chance that a word piece trades places with the next one", minimum=0.0,
                             maximum=0.5)
    keyword_cutoff: float = key(0.0, "chance that a word piece training shows with one label only is hidden "
                                "(less for one the labels share, none for one spread evenly): the model learns "
                                "to read the whole text, not one give-away word", minimum=0.0, maximum=0.5)
    consistency: float = key(0.0, "R-Drop: weight of the symmetric KL divergence between two dropout passes of "
                             "each batch (each step computes twice)", minimum=0.0)
    label_smoothing: float = key(0.0, "share of each training label spread evenly over all labels (label "
                                 "smoothing): no training answer is pushed to certainty", minimum=0.0, maximum=0.5)


@dataclasses.dataclass
class DistillationConfig:
    """A smaller student trained on a fine-tuned teacher's soft targets; off while `teacher` is unset."""

    teacher: typing.Optional[str] = key(None, "the teacher's run directory (its run_dir, e.g. runs/sst2; relative "
                                        "to where tfllm runs, as run_dir is): its trained model is the teacher")
    student_layers: int = key(3, "transformer layers of the student: every k-th of the teacher's, the top one "
                              "included (6 -> 3 keeps layers 2, 4 and 6)", minimum=1)
    student_init: str = key("teacher", "teacher: the student starts from the teacher's embeddings, kept layers "
                            "and head | scratch: from fresh weights", choices=("teacher", "scratch"))
    student_hidden_dim: typing.Optional[int] = key(None, "student_init scratch: a narrower hidden size (default "
                                                   "the teacher's; heads keep their size)", minimum=1)
    student_intermediate_dim: typing.Optional[int] = key(
        None, "a narrower feed-forward width (default the teacher's; student_init teacher: keeps the teacher's "
        "units whose weights are largest)", minimum=1)
    temperature: float = key(2.0, "softens both models' predictions before they are compared", above=0.0)
    soft_weight: float = key(0.5, "weight of the KL divergence to the teacher's softened predictions (times "
                             "temperature squared); the hard labels' loss gets the rest", minimum=0.0, maximum=1.0)


# export and generation: what the commands that use a trained model read.

@dataclasses.dataclass
class ExportConfig:
    """Where `tfllm export` publishes."""

    root: str = key("savedmodels", "the export root: <root>/<name>/<version>/ (a local path or gs://)")
    version: typing.Optional[int] = key(None, "the version number (default: the next free one)", minimum=1)
    base_path: typing.Optional[str] = key(None, "where TF Serving sees the root, for models.config")


@dataclasses.dataclass
class QuantizedExportConfig(ExportConfig):
    """Where `tfllm export` publishes a BERT or GPT-2 task model, and in which precision."""

    quantize: typing.Optional[str] = key(None, "int8: the backbone's weights in int8 (Keras post-training "
                                         "quantization; a quarter of the bytes)", choices=("int8",))


@dataclasses.dataclass
class GenerationConfig:
    """Defaults of `tfllm generate` and `tfllm chat`, and the samples logged after each training epoch."""

    max_new_tokens: int = key(64, "tokens to generate", minimum=1)
    temperature: float = key(0.8, "0: greedy; higher: more varied", minimum=0.0)
    top_k: int = key(0, "sample from the k most likely tokens (0: all)", minimum=0)
    top_p: float = key(0.95, "sample from the most likely tokens holding this probability", above=0.0, maximum=1.0)
    num_beams: int = key(1, "> 1: beam search (the export's beam_search signature uses this many, default 4)",
                         minimum=1)
    seed: int = key(0, "the same seed gives the same sample")
    stop: typing.List[str] = key([], "end a text where one of these strings appears")
    samples: typing.List[str] = key([], "prompts (chat: user messages) sampled after each epoch")
