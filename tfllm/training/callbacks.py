"""The callbacks every training run gets: progress in TensorBoard, best checkpoint, early stopping."""

import keras

from tfllm import storage


class BestCheckpoint(keras.callbacks.ModelCheckpoint):
    """Keeps the best weights by `monitor`, and records that best value beside them (`<path>.json`).

    Callback state is not part of a backup, so a resumed run would start from "no best yet" and could
    replace the best weights with a worse epoch. With `resume=True` the recorded value is the threshold
    to beat instead.
    """

    def __init__(self, path, monitor="val_loss", mode="min", resume=False):
        self.record_path = path + ".json"
        threshold = None
        if resume and storage.exists(self.record_path):
            record = storage.read_json(self.record_path)
            if record["monitor"] == monitor:
                threshold = record["best"]
        super().__init__(path, monitor=monitor, mode=mode, save_best_only=True, save_weights_only=True,
                         initial_value_threshold=threshold)

    def on_epoch_end(self, epoch, logs=None):
        previous = self.best
        super().on_epoch_end(epoch, logs)
        if self.best is not None and self.best != previous:
            storage.write_json(self.record_path,
                               {"monitor": self.monitor, "best": float(self.best), "epoch": epoch + 1})


class ServedScore(keras.callbacks.Callback):
    """Adds `name` to each epoch's logs: `score()`, a metric of the validation data's served answers
    (entity F1, QA F1) that no Keras metric computes. Listed before the callbacks that monitor it."""

    def __init__(self, name, score):
        super().__init__()
        self.name, self.score = name, score

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.name] = float(self.score())


def backup_dir(run_dir):
    """`run_dir/backup`: where `resumable_fit` keeps the state an interrupted run resumes from."""
    return storage.join(run_dir, "backup")


def best_weights_path(run_dir):
    """`run_dir/checkpoints/best.weights.h5`: the best weights by the monitored metric."""
    return storage.join(run_dir, "checkpoints", "best.weights.h5")


def training_callbacks(run_dir, monitor="val_loss", mode="min", patience=None, chief=True):
    """Callbacks for `fit` writing under `run_dir` (any `tf.io.gfile` path).

    - TensorBoard logs in `run_dir/tensorboard` (`tensorboard --logdir run_dir/tensorboard`).
    - The best weights by `monitor` in `run_dir/checkpoints/best.weights.h5`.
    - Early stopping after `patience` epochs without improvement (None: never), restoring the best weights.
      A resumed run counts patience again from the epoch it resumes at.

    Without validation data, pass `monitor="loss"`. Resuming is `resumable_fit`'s, with `backup_dir(run_dir)`.
    The other workers of a multi-worker job (`chief=False`) get early stopping only: they would write
    the chief's files again.

    Example:
    >>> callbacks = training_callbacks("runs/sentiment", patience=3)
    >>> [type(c).__name__ for c in callbacks]
    ['TensorBoard', 'BestCheckpoint', 'EarlyStopping']
    """
    callbacks = [
        keras.callbacks.TensorBoard(storage.join(run_dir, "tensorboard")),
        BestCheckpoint(best_weights_path(run_dir), monitor, mode, resume=storage.exists(backup_dir(run_dir))),
    ] if chief else []
    if patience:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=patience,
                                                       restore_best_weights=True))
    return callbacks
