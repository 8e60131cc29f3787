"""The callbacks every training run gets: progress in TensorBoard, best checkpoint, early stopping."""

import json
import os

import keras


class BestCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keeps the best weights by `monitor`, and records that best value beside them (`<path>.json`).

    Callback state is not part of a backup, so a resumed run would start from "no best yet" and could
    replace the best weights with a worse epoch. With `resume=True` the recorded value is the threshold
    to beat instead.
    """

    def __init__(self, path, monitor="val_loss", mode="min", resume=False):
        self.record_path = path + ".json"
        threshold = None
        if resume and os.path.exists(self.record_path):
            with open(self.record_path) as f:
                record = json.load(f)
            if record["monitor"] == monitor:
                threshold = record["best"]
        super().__init__(path, monitor=monitor, mode=mode, save_best_only=True, save_weights_only=True,
                         initial_value_threshold=threshold)

    def on_epoch_end(self, epoch, logs=None):
        previous = self.best
        super().on_epoch_end(epoch, logs)
        if self.best is not None and self.best != previous:
            partial = self.record_path + ".partial"
            with open(partial, "w") as f:
                json.dump({"monitor": self.monitor, "best": float(self.best), "epoch": epoch + 1}, f)
            os.replace(partial, self.record_path)


def backup_dir(run_dir):
    """`run_dir/backup`: where `resumable_fit` keeps the state an interrupted run resumes from."""
    return os.path.join(run_dir, "backup")


def training_callbacks(run_dir, monitor="val_loss", mode="min", patience=None):
    """Callbacks for `fit` writing under `run_dir`.

    - TensorBoard logs in `run_dir/tensorboard` (`tensorboard --logdir run_dir/tensorboard`).
    - The best weights by `monitor` in `run_dir/checkpoints/best.weights.h5`.
    - Early stopping after `patience` epochs without improvement (None: never), restoring the best weights.
      A resumed run counts patience again from the epoch it resumes at.

    Without validation data, pass `monitor="loss"`. Resuming is `resumable_fit`'s, with `backup_dir(run_dir)`.

    Example:
    >>> callbacks = training_callbacks("runs/sentiment", patience=3)
    >>> [type(c).__name__ for c in callbacks]
    ['TensorBoard', 'BestCheckpoint', 'EarlyStopping']
    """
    callbacks = [
        keras.callbacks.TensorBoard(os.path.join(run_dir, "tensorboard")),
        BestCheckpoint(os.path.join(run_dir, "checkpoints", "best.weights.h5"), monitor, mode,
                       resume=os.path.isdir(backup_dir(run_dir))),
    ]
    if patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                                       restore_best_weights=True))
    return callbacks
