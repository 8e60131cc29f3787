"""The training run every job shares: fit with the standard callbacks, keep the best weights, save."""

import json
import os

from tfllm.training.callbacks import training_callbacks


def fit_and_save(model, config, train_data, validation_data, model_dir, verbose="auto", extra_callbacks=()):
    """Fits `model` as `config.training` says, restores its best weights and saves it with `save_to_dir`.

    Writes TensorBoard logs, checkpoints and backups under `config.run_dir` (an interrupted run resumes)
    and the per-epoch metrics in `<run_dir>/history.json`.
    """
    monitor = "val_loss" if validation_data is not None else "loss"
    callbacks = training_callbacks(config.run_dir, monitor=monitor, patience=config.training.early_stopping_patience)
    history = model.fit(train_data, validation_data=validation_data, epochs=config.training.epochs, verbose=verbose,
                        callbacks=callbacks[:1] + list(extra_callbacks) + callbacks[1:])
    best = os.path.join(config.run_dir, "checkpoints", "best.weights.h5")
    if os.path.exists(best):
        model.load_weights(best)
    model.save_to_dir(model_dir)
    with open(os.path.join(config.run_dir, "history.json"), "w") as f:
        json.dump({k: [float(v) for v in values] for k, values in history.history.items()}, f, indent=2)
    print(f"saved the model in {model_dir}")
