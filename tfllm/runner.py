"""The one runner: `train`, `evaluate`, `predict` and `export` for every task, chosen from the registry.

Each task declares its parts once (see `tfllm.tasks.task`); everything the commands share (the
strategy, precision, seeds, the optimizer sized from the real batches, resumable fit, the best
checkpoint, the recorded config, the verified export) is written here, once.

Example (skipped by the test command: it fine-tunes all-MiniLM-L6-v2, minutes on 2 cores):
>>> from tfllm.configs.job import load_config
>>> config = load_config("examples/intents/config.yaml", ["training.epochs=1", "data.limit=16"])
>>> train(config, verbose=0)  # doctest: +SKIP
>>> predict(config, ["where is my parcel?"])  # doctest: +SKIP
[{'text': 'where is my parcel?', 'label': 'track_order', 'probabilities': {...}}]
"""

import os

import keras

from tfllm import storage
from tfllm.configs.job import record_config, settings_changed_since_start
from tfllm.configs.task_spec import LOWER_IS_BETTER
from tfllm.evaluation.classification_report import write_report
from tfllm.export.saved_model_export import export_for_serving
from tfllm.tasks.registry import task_spec
from tfllm.tasks.task import data_file
from tfllm.training.callbacks import ServedScore, backup_dir, best_weights_path, training_callbacks
from tfllm.training.distillation import Distillation
from tfllm.training.optimizer import adamw_with_warmup
from tfllm.training.precision import precision_scope
from tfllm.training.resumable_fit import resumable_fit
from tfllm.training.run_files import evaluation_dir, model_dir, remove_from_run
from tfllm.training.strategy import resolve_strategy


def task_of(config):
    """The `Task` of a config's `task:` (see `tfllm.tasks.registry`)."""
    return task_spec(config.task).task()


def compile_for_training(task, model, config, train_data, teacher=None):
    """Compiles `model` with the task's loss and metrics (and `task.compile_options`) and AdamW as
    `config.training` says; with a `teacher`, as its student (`config.distillation`).

    The schedule's length is epochs x `len(train_data)`: the batches the dataset really makes, which
    length bucketing puts above ceil(examples / batch_size) (and long texts and QA contexts above the
    example count), so that no step runs past the end of the decay at learning rate 0.
    """
    training = config.training
    optimizer = adamw_with_warmup(training.learning_rate, len(train_data) * training.epochs,
                                  training.warmup_fraction, training.weight_decay)
    options = task.compile_options(config)
    if teacher is not None:
        settings = config.distillation
        options["distillation"] = Distillation(teacher, settings.temperature, settings.soft_weight)
    model.compile(optimizer=optimizer, steps_per_execution=training.steps_per_execution, **options)


def monitored(task, config, model, validation_examples):
    """(the log name of `training.monitor`, [the callback that scores it, for served metrics]).

    The validation data's metric when there is validation data; else the training data's, and the
    training loss for a metric that only served answers give (the run says so).
    """
    name = config.training.monitor
    if validation_examples is None:
        if name in task.served_monitors:
            print(f"note: training.monitor {name} is scored on validation data, and there is none: the checkpoint "
                  "kept is the one of the lowest training loss")
            return "loss", []
        return name, []
    if name not in task.served_monitors:
        return f"val_{name}", []
    key, server = task.served_monitors[name], task.server(config, model)

    def score():
        return task.evaluate(config, model, validation_examples, None, server)[key]

    return f"val_{name}", [ServedScore(f"val_{name}", score)]


def train(config, verbose="auto"):
    """Trains the config's task and saves the model in `<run_dir>/model`; returns the trained model.

    Writes TensorBoard logs, checkpoints and backups under `config.run_dir` (a killed run resumes from
    its last backup, every `training.backup_every_steps` batches and each epoch end, when trained again
    with the settings it started with; other settings are an error naming the keys), the per-epoch
    metrics in `<run_dir>/history.json`, and the resolved config in `<run_dir>/config.yaml`, which
    evaluate, predict and export read the model's settings from. In a multi-worker job the chief writes
    them all, and the other workers read its backup when they resume: `run_dir` must be storage they
    share (gs://).
    """
    resuming = storage.exists(backup_dir(config.run_dir))
    if resuming:  # resuming with other settings would mix two runs
        changed = settings_changed_since_start(config)
        if changed:
            raise ValueError(f"{config.path}: {config.run_dir} holds an interrupted run started with other "
                             f"{', '.join(changed)}: train with the settings it started with to resume it, or "
                             f"delete {backup_dir(config.run_dir)} to start over")
    task = task_of(config)
    training = config.training
    strategy = resolve_strategy(training.strategy, training.tpu)  # a multi-worker strategy comes before any op
    keras.utils.set_random_seed(training.seed)
    train_examples, validation_examples = task.splits(config)
    if strategy.extended.should_checkpoint and not resuming:  # the chief starts the run's files afresh
        for name, what in (("tensorboard", "the TensorBoard logs"), ("tokenizer", "the vocabulary")):
            removed = remove_from_run(config, name)
            if removed:
                print(f"removed {removed}: {what} of the run this one replaces")
    with strategy.scope(), precision_scope(training.precision, strategy):
        teacher = task.teacher(config)
        model = task.build(config, train_examples) if teacher is None else task.student(config, teacher)
        train_data = task.dataset(config, model, train_examples, True)
        validation_data = task.dataset(config, model, validation_examples, False) if validation_examples else None
        compile_for_training(task, model, config, train_data, teacher)

    chief = model.distribute_strategy.extended.should_checkpoint  # the one worker that writes
    if chief:
        record_config(config)
    monitor, scores = monitored(task, config, model, validation_examples if validation_data is not None else None)
    callbacks = training_callbacks(config.run_dir, monitor=monitor, patience=training.early_stopping_patience,
                                   chief=chief, mode="min" if monitor.endswith(LOWER_IS_BETTER) else "max")
    callbacks = scores + callbacks[:1] + (task.callbacks(config, model) if chief else []) + callbacks[1:]
    unused = [train_data]

    def make_train_data():  # the first epoch's dataset, then a new one for a run resumed mid-epoch
        return unused.pop() if unused else task.dataset(config, model, train_examples, True)

    if verbose == 2:  # a line per epoch, no bar: say how long an epoch is before its line comes
        steps = int(train_data.cardinality())
        print(f"training {training.epochs} epoch(s)" + (f" of {steps} steps" if steps > 0 else "") +
              "; a line per epoch (the output is not a terminal)", flush=True)
    history = resumable_fit(model, make_train_data, training.epochs, backup_dir(config.run_dir), validation_data,
                            callbacks, verbose, training.backup_every_steps)
    if chief:
        best = best_weights_path(config.run_dir)
        if storage.exists(best):
            model.load_weights(best)
            kept = storage.read_json(best + ".json")
            print(f"kept the weights of epoch {kept['epoch']} of {len(history.get(monitor, []))}: the best "
                  f"{monitor}, {kept['best']:.4f} (training.monitor: {training.monitor})")
        removed = remove_from_run(config, "evaluation")
        if removed:
            print(f"removed {removed}: its reports were of the model this run replaces (tfllm evaluate scores "
                  "this one)")
        model.save_to_dir(model_dir(config))
        storage.write_json(storage.join(config.run_dir, "history.json"),
                           {k: [float(v) for v in values] for k, values in history.items()}, indent=2)
        print(f"saved the model in {model_dir(config)}")
        message = task.trained_message(config)
        if message:
            print(message)
    return model


def evaluate(config, split="validation", path=None, quantize=None, model=None):
    """Scores the trained model on a labeled split (or another file, `path`); writes the report to
    `<run_dir>/evaluation/<split>/` (for a file, `data_<its name>`; with `quantize`, then `_int8`) and
    returns it (a dict). A file's report never replaces the validation one that exports carry."""
    task = task_of(config)
    data, examples = task.evaluation_split(config, split, path)
    model = model or task.load(config, quantize)
    name = "data_" + os.path.splitext(os.path.basename(path))[0] if path else split
    directory = evaluation_dir(config, name + (f"_{quantize}" if quantize else ""))
    report = task.evaluate(config, model, examples, directory)
    report["data"] = data
    if quantize:
        report["quantize"] = quantize
    write_report(report, directory)
    print(task.summary(report))
    print(f"report written to {directory}")
    return report


def predict(config, x, model=None):
    """The trained model's served answers for raw inputs `x`, as its `predict` takes them (texts; pair
    classifiers and QA readers: (texts, text_pairs)): JSON-ready rows, in order."""
    return (model or task_of(config).load(config)).predict(x)


def predict_file(config, path, progress=False):
    """The served answers of a data file's examples (gold labels, if any, are ignored); `progress`: show a
    progress bar (on standard output: not where the answers go)."""
    task = task_of(config)
    examples = task.read(config, data_file(path), labeled=False)  # a bad file is named before the model loads
    model = task.load(config)
    return task.server(config, model).answer(examples, model.predict_batch_size, progress)


def export(config, version=None, quantize=None):
    """Exports the trained model to `<export.root>/<name>/<version>/` (see `export_for_serving`) and says
    where; returns the version directory. `quantize` (default `export.quantize`): "int8" weights."""
    task = task_of(config)
    quantize = quantize or getattr(config.export, "quantize", None)  # BERT and GPT-2 tasks have export.quantize
    model = task.load(config, quantize)
    server = task.export_server(config, model)
    metadata = {"task": config.task, "backbone": config.backbone.source, "quantize": quantize,
                **task.metadata(config, model, server)}
    report_path = storage.join(evaluation_dir(config, "validation"), "report.json")
    if task.report_keys and storage.exists(report_path):
        report = storage.read_json(report_path)
        metadata["validation"] = {key: report[key] for key in task.report_keys if key in report}
    elif task.report_keys and getattr(config.data, "validation", None):
        print(f"note: the export carries no validation scores: {report_path} is not there (tfllm evaluate writes it)")
    # Tracing the signatures and loading them back takes a while (minutes for a large GPT-2): say what it is.
    print("saving the serving signatures, then checking their answers in a fresh process ...", flush=True)
    path, check = export_for_serving(server, config.export.root, config.name,
                                     config.export.version if version is None else version,
                                     metadata, config.export.base_path)
    print(f"fresh-process check (tensorflow + tensorflow_text only): outputs match for "
          f"{', '.join(sorted(check['signatures']))} ({', '.join(check['outputs'])})")
    print(f"SavedModel for TF Serving: {path if storage.is_remote(path) else os.path.abspath(path)}")
    return path
