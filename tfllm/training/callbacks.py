"""The callbacks every training run gets: progress in TensorBoard, best checkpoint, early stopping, resume."""

import os

import keras


def training_callbacks(run_dir, monitor="val_loss", mode="min", patience=None):
    """Callbacks for `fit` writing under `run_dir`.

    - TensorBoard logs in `run_dir/tensorboard` (`tensorboard --logdir run_dir/tensorboard`).
    - The best weights by `monitor` in `run_dir/checkpoints/best.weights.h5`.
    - Early stopping after `patience` epochs without improvement (None: never), restoring the best weights.
    - Backup and restore in `run_dir/backup`: an interrupted `fit` resumes from its last epoch.

    Without validation data, pass `monitor="loss"`.
    """
    callbacks = [
        keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard")),
        keras.callbacks.ModelCheckpoint(os.path.join(run_dir, "checkpoints", "best.weights.h5"), monitor=monitor,
                                        mode=mode, save_best_only=True, save_weights_only=True),
        keras.callbacks.BackupAndRestore(os.path.join(run_dir, "backup")),
    ]
    if patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                                       restore_best_weights=True))
    return callbacks
