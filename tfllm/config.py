"""YAML job configurations. Unknown keys are errors that name the file and the key.

Data paths are relative to the config file (data travels with its config); `run_dir` and the export
root are relative to where the command runs.
"""

import dataclasses
import os
import typing

import yaml


SCRATCH_SOURCE = "scratch"  # backbone.source of a model trained from scratch (GPT-2, or BERT in masked_lm)
STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "multi_worker", "tpu")  # training.strategy, see tfllm.training.strategy
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")  # training.precision, see tfllm.training.precision
_TASKS = ("text_classification", "relation_extraction", "token_classification", "question_answering", "causal_lm",
          "chat", "conditional_generation", "masked_lm")
BERT_TASKS = ("text_classification", "relation_extraction", "token_classification", "question_answering")
GPT2_TASKS = ("causal_lm", "chat", "conditional_generation")
PRETRAINING_TASKS = ("masked_lm", "causal_lm")  # what `tfllm pretrain` runs
_DEFAULT_SOURCES = {task: "all-minilm-l6-v2" for task in BERT_TASKS}


@dataclasses.dataclass
class BackboneConfig:
    # BERT tasks: see tfllm.backbones.load_backbone (default all-minilm-l6-v2). GPT-2 tasks: a KerasHub
    # preset, a preset or Hugging Face dir (see tfllm.backbones.load_gpt2), or "scratch". masked_lm: a
    # BERT source to continue pretraining, or "scratch".
    source: typing.Optional[str] = None
    preprocess: typing.Optional[str] = None  # TF-Hub encoders outside the handle table
    native: bool = True
    sequence_length: int = 128  # BERT: the longest input; GPT-2: the training window
    size: str = "mini"  # scratch GPT-2: tiny | mini | small | base; scratch BERT: also medium
    vocabulary_size: int = 8000  # scratch: byte-level BPE (GPT-2) or WordPiece (BERT) trained on data.train
    lowercase: bool = True  # scratch BERT: an uncased WordPiece vocabulary
    context_length: int = 256  # scratch GPT-2: the longest prompt + generation; scratch BERT: position embeddings


@dataclasses.dataclass
class DataConfig:
    train: typing.Optional[str] = None
    validation: typing.Optional[str] = None
    test: typing.Optional[str] = None
    # csv | tsv | jsonl | json (one array of objects); causal_lm also text (.txt); chat: jsonl | tsv |
    # dailydialog | json (an object of splits, path#split); token_classification: conll | cluener;
    # question_answering: SQuAD v1.1 JSON; relation_extraction: JSONL (tfllm.data.relation_reader).
    # Default: from the extension.
    format: typing.Optional[str] = None
    column_names: typing.Optional[typing.List[str]] = None  # CSV/TSV without a header row: its columns
    text_column: str = "text"
    text_pair_column: typing.Optional[str] = None
    label_column: str = "label"  # relation_extraction's default: relation
    multi_label: bool = False
    label_separator: str = "|"
    labels: typing.Optional[typing.List[str]] = None  # default: the labels seen in train
    on_bad_rows: str = "error"  # error | skip
    entity_types: typing.Optional[typing.List[str]] = None  # token_classification; default: the types in train
    tag_scheme: str = "bio"  # token_classification: bio | bioes
    max_question_length: int = 64  # question_answering: question pieces kept ...
    doc_stride: int = 128  # ... context pieces between window starts (also long_text classification) ...
    max_answer_length: int = 30  # ... and the longest answer, in pieces
    document_separator: typing.Optional[str] = None  # causal_lm .txt files: between documents (default: none)
    turns_field: str = "turns"  # chat JSONL: the list of turns
    source_column: str = "source"  # conditional_generation: the input text ...
    target_column: str = "target"  # ... and the text to generate from it
    source_prefix: str = ""  # conditional_generation prompts: source_prefix + source + target_prefix
    target_prefix: str = "\nTarget:"
    remove_spaces: bool = False  # chat: character-segmented Chinese such as LCCC
    limit: typing.Optional[int] = None  # read only the first N examples of each file (quick runs)
    # GPT-2 tasks without data.validation: hold out the last share (conditional_generation: a seeded random share)
    validation_split: typing.Optional[float] = None


@dataclasses.dataclass
class TrainingConfig:
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_fraction: float = 0.1
    weight_decay: float = 0.01
    dropout: float = 0.1
    pooling: str = "cls"  # cls | mean (sentence-embedding backbones such as all-MiniLM-L6-v2) | markers (relations)
    long_text: typing.Optional[str] = None  # classification: mean | max of window logits (default: truncate)
    early_stopping_patience: typing.Optional[int] = 2
    thresholds: typing.Union[float, typing.List[float]] = 0.5  # multi-label decision thresholds
    fixed_length: bool = False  # pad to sequence_length (TPU); default: bucket by length
    strategy: str = "auto"  # auto | cpu | gpu | mirrored | multi_worker (TF_CONFIG) | tpu (tfllm.training.strategy)
    tpu: typing.Optional[str] = None  # strategy tpu: the TPU's name, grpc:// address, or local
    backup_every_steps: typing.Optional[int] = 500  # and at each epoch end; a killed run resumes from the last
    steps_per_execution: int = 1  # batches per compiled call: fewer host round trips (TPU: 32 or more)
    precision: str = "float32"  # float32 | mixed_bfloat16 | mixed_float16 | auto (tfllm.training.precision)
    lora_rank: typing.Optional[int] = None  # GPT-2 tasks: train LoRA adapters of this rank on a frozen backbone
    mask_rate: float = 0.15  # masked_lm: the share of tokens (or words) masked, by the 80/10/10 rule
    max_predictions: int = 20  # masked_lm: the most masked tokens per sequence
    whole_word_masking: bool = False  # masked_lm: mask all pieces of a chosen word
    next_sentence_prediction: bool = False  # masked_lm: also BERT's next-sentence task (texts of several sentences)
    seed: int = 42


@dataclasses.dataclass
class GenerationConfig:
    """Defaults of `tfllm generate` and `tfllm chat`, and the samples logged after each training epoch."""

    max_new_tokens: int = 64
    temperature: float = 0.8  # 0: greedy
    top_k: int = 0  # 0: all tokens
    top_p: float = 0.95
    num_beams: int = 1  # > 1: beam search (the export's beam_search signature uses this many, default 4)
    seed: int = 0
    stop: typing.List[str] = dataclasses.field(default_factory=list)
    samples: typing.List[str] = dataclasses.field(default_factory=list)  # prompts (chat: user messages)


@dataclasses.dataclass
class ExportConfig:
    root: str = "savedmodels"
    version: typing.Optional[int] = None  # default: the next free version
    base_path: typing.Optional[str] = None  # where TF Serving sees `root`, for models.config
    quantize: typing.Optional[str] = None  # GPT-2 tasks: "int8" weights (Keras post-training quantization)


@dataclasses.dataclass
class JobConfig:
    name: str
    task: str = "text_classification"
    run_dir: typing.Optional[str] = None  # default: runs/<name>
    backbone: BackboneConfig = dataclasses.field(default_factory=BackboneConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
    generation: GenerationConfig = dataclasses.field(default_factory=GenerationConfig)
    path: typing.Optional[str] = None  # the file it was read from


_SECTIONS = {"backbone": BackboneConfig, "data": DataConfig, "training": TrainingConfig, "export": ExportConfig,
             "generation": GenerationConfig}


def _build(cls, values, where):
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping, got {values!r}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(known - {'path'})}")
    return cls(**values)


def load_config(path):
    """Reads a job config file.

    Example:
    >>> config = load_config("examples/intents/config.yaml")  # doctest: +SKIP
    >>> config.backbone.source  # doctest: +SKIP
    'all-minilm-l6-v2'
    """
    with open(path, encoding="utf-8") as f:
        try:
            raw = yaml.safe_load(f) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: not valid YAML: {error}") from None
    if "name" not in raw:
        raise ValueError(f"{path}: missing key 'name' (the model's name in savedmodels/ and TF Serving)")
    if raw.get("task") == "relation_extraction":  # its own defaults, unless the file sets them
        raw["data"] = {"label_column": "relation", **(raw.get("data") or {})}
        raw["training"] = {"pooling": "markers", **(raw.get("training") or {})}
    sections = {key: _build(cls, raw.pop(key, {}) or {}, f"{path}: {key}") for key, cls in _SECTIONS.items()}
    config = _build(JobConfig, {**raw, **sections}, path)
    config.path = path
    base = os.path.dirname(os.path.abspath(path))
    for split in ("train", "validation", "test"):
        value = getattr(config.data, split)
        if value and not os.path.isabs(value) and "://" not in value:
            setattr(config.data, split, os.path.join(base, value))
    config.run_dir = config.run_dir or os.path.join("runs", config.name)
    if config.task not in _TASKS:
        raise ValueError(f"{path}: unknown task {config.task!r}; supported: {', '.join(_TASKS)}")
    config.backbone.source = config.backbone.source or _DEFAULT_SOURCES.get(config.task)
    if config.training.lora_rank is not None and (config.task not in GPT2_TASKS or config.training.lora_rank < 1
                                                  or config.backbone.source == SCRATCH_SOURCE):
        raise ValueError(f"{path}: training.lora_rank needs a GPT-2 task with a pretrained backbone.source, "
                         "and a rank of at least 1")
    if config.export.quantize not in (None, "int8") or (config.export.quantize and config.task not in GPT2_TASKS):
        raise ValueError(f"{path}: export.quantize may be int8, for GPT-2 tasks; not {config.export.quantize!r}")
    if config.training.strategy not in STRATEGIES:
        raise ValueError(f"{path}: training.strategy must be one of {', '.join(STRATEGIES)}, "
                         f"not {config.training.strategy!r}")
    if config.training.precision not in PRECISIONS:
        raise ValueError(f"{path}: training.precision must be one of {', '.join(PRECISIONS)}, "
                         f"not {config.training.precision!r}")
    if config.training.backup_every_steps is not None and config.training.backup_every_steps < 1:
        raise ValueError(f"{path}: training.backup_every_steps must be at least 1, or null (epoch ends only)")
    if config.training.steps_per_execution < 1:
        raise ValueError(f"{path}: training.steps_per_execution must be at least 1, "
                         f"not {config.training.steps_per_execution}")
    if not 0 < config.training.mask_rate < 1 or config.training.max_predictions < 1:
        raise ValueError(f"{path}: training.mask_rate must be between 0 and 1 and training.max_predictions at least 1")
    if config.data.tag_scheme not in ("bio", "bioes"):
        raise ValueError(f"{path}: data.tag_scheme must be bio or bioes, not {config.data.tag_scheme!r}")
    if not config.backbone.source:
        kinds = ("a BERT source to continue pretraining" if config.task == "masked_lm" else
                 "a GPT-2 preset such as gpt2_base_en, a preset or Hugging Face dir")
        raise ValueError(f"{path}: backbone.source is required for task {config.task} ({kinds}, or scratch)")
    return config
