"""The training run every job shares: the optimizer sized from the real batches, fit with the standard
callbacks, keep the best weights, save."""

from tfllm import storage
from tfllm.config import record_config
from tfllm.training.optimizer import adamw_with_warmup
from tfllm.training.callbacks import backup_dir, best_weights_path, training_callbacks
from tfllm.training.resumable_fit import resumable_fit


def compile_for_training(model, config, train_data):
    """Compiles `model` with the task's loss and metrics and AdamW as `config.training` says.

    The schedule's length is epochs x `len(train_data)`: the batches the dataset really makes, which
    length bucketing puts above ceil(examples / batch_size) (and long texts and QA contexts above the
    example count), so that no step runs past the end of the decay at learning rate 0.
    """
    training = config.training
    optimizer = adamw_with_warmup(training.learning_rate, len(train_data) * training.epochs,
                                  training.warmup_fraction, training.weight_decay)
    model.compile(optimizer=optimizer, steps_per_execution=training.steps_per_execution)


def fit_and_save(model, config, train_data, remake_train_data, validation_data, model_dir, verbose="auto",
                 extra_callbacks=()):
    """Fits `model` as `config.training` says, restores its best weights and saves it with `save_to_dir`.

    `train_data` is the first epoch dataset; `remake_train_data()` builds another like it, for a run that
    resumes mid-epoch (see `resumable_fit`).

    Writes TensorBoard logs, checkpoints and backups under `config.run_dir` (a killed run resumes from
    its last backup, every `training.backup_every_steps` batches and each epoch end) and the per-epoch
    metrics in `<run_dir>/history.json`, and the resolved config in `<run_dir>/config.yaml`. In a
    multi-worker job the chief writes them all, and the other workers read its backup when they resume:
    `run_dir` must be storage they share (gs://).
    """
    monitor = "val_loss" if validation_data is not None else "loss"
    chief = model.distribute_strategy.extended.should_checkpoint  # the one worker that writes
    if chief:
        record_config(config)  # what evaluate, predict and export read the model's settings from
    callbacks = training_callbacks(config.run_dir, monitor=monitor, patience=config.training.early_stopping_patience,
                                   chief=chief)
    unused = [train_data]

    def make_train_data():
        return unused.pop() if unused else remake_train_data()

    history = resumable_fit(model, make_train_data, config.training.epochs, backup_dir(config.run_dir),
                            validation_data, callbacks[:1] + list(extra_callbacks) + callbacks[1:], verbose,
                            config.training.backup_every_steps)
    if not chief:
        return
    best = best_weights_path(config.run_dir)
    if storage.exists(best):
        model.load_weights(best)
    model.save_to_dir(model_dir)
    storage.write_json(storage.join(config.run_dir, "history.json"),
                       {k: [float(v) for v in values] for k, values in history.items()}, indent=2)
    print(f"saved the model in {model_dir}")
