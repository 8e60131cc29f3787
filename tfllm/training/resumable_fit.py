"""`fit` that a killed run resumes mid-epoch, to the weights an uninterrupted run ends with.

Keras' `BackupAndRestore` restarts an interrupted epoch from its first batch: the batches before the
crash are trained twice, and the dropout masks differ. Here every run reads its training data as one
stream (`dataset.repeat()`, reshuffled each epoch from its seed), and a backup records the weights,
the optimizer, the dropout generators' states and the position in that stream. A resumed run skips
a new stream to that position (the host pipeline runs, the model does not) and goes on from there.
"""

import keras
import numpy as np
import tensorflow as tf

from tfllm.storage import join, read_json, write_json

_STATE_FILE = "state.json"


def _seed_states(model):
    """The dropout (and other) random generators' states, in a fixed order (their paths are not unique);
    Keras' weight files leave them out."""
    return [v for v in model.variables if v.path.endswith("seed_generator_state")]


class TrainingBackup(keras.callbacks.Callback):
    """Backs up the training state every `every_steps` batches and at each epoch end.

    The state is `<backup_dir>/state.json` (epoch, batch, seed states, weight file, and the metrics of
    every epoch done so far, `history`) and a `.weights.h5` file with the model and optimizer variables. The weight file is written first and
    the state replaces the old one after it, so a crash mid-write leaves the previous backup whole.

    With `write=False` (the workers of a multi-worker job but the chief) it restores from the backup
    but writes none: every worker reads the chief's, so `backup_dir` must be on storage they share.
    """

    def __init__(self, backup_dir, every_steps=None, write=True):
        super().__init__()
        self.backup_dir, self.every_steps, self.write = backup_dir, every_steps, write
        self.state = self._read_state()
        self.history = dict(self.state.get("history", {})) if self.state else {}  # of every process's epochs
        self._epoch, self._offset, self._last_saved, self._pending_restore = 0, 0, 0, self.state is not None

    def _read_state(self):
        path = join(self.backup_dir, _STATE_FILE)
        if not tf.io.gfile.exists(path):
            return None
        return read_json(path)

    @property
    def position(self):
        """(epoch, batch): where the backed-up run stopped; (0, 0) when there is no backup."""
        return (self.state["epoch"], self.state["batch"]) if self.state else (0, 0)

    def starts_at(self, epoch, batch):
        """Tells the callback that the coming `fit` starts at `batch` of `epoch` (batch numbers restart at 0)."""
        self._epoch, self._offset, self._last_saved = epoch, batch, batch

    def on_train_begin(self, logs=None):
        if not self._pending_restore:
            return
        # `fit` has built the model by now, but not the optimizer: without its variables, loading would
        # restore the weights and silently drop the optimizer's step and moments.
        if not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(join(self.backup_dir, self.state["weights"]))
        for variable, value in zip(_seed_states(self.model), self.state["seed_states"], strict=True):
            variable.assign(np.array(value, dtype=variable.dtype))
        self._pending_restore = False

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        batch += 1 + self._offset  # batches done in this epoch (with steps_per_execution, several at a time)
        if self.every_steps and batch - self._last_saved >= self.every_steps:
            self._save(self._epoch, batch)
            self._last_saved = batch

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        self._offset = self._last_saved = 0
        self._save(epoch + 1, 0)

    def _save(self, epoch, batch):
        if not self.write:
            return
        tf.io.gfile.makedirs(self.backup_dir)
        step = int(self.model.optimizer.iterations.numpy())
        weights = f"step-{step}.weights.h5"
        self.model.save_weights(join(self.backup_dir, weights))
        previous = self.state["weights"] if self.state else None
        self.state = {"epoch": epoch, "batch": batch, "weights": weights, "seed_states":
                      [v.numpy().tolist() for v in _seed_states(self.model)], "history": self.history}
        write_json(join(self.backup_dir, _STATE_FILE), self.state)
        if previous and previous != weights:
            tf.io.gfile.remove(join(self.backup_dir, previous))


def resumable_fit(model, make_train_data, epochs, backup_dir, validation_data=None, callbacks=(), verbose="auto",
                  backup_every_steps=None):
    """`model.fit` that resumes where a killed run stopped, and ends with the weights it would have.

    Args:
        model: a compiled Keras model.
        make_train_data: returns one epoch of training batches, a `tf.data.Dataset` with a known length
            and a seeded per-epoch reshuffle (as the tasks' `make_dataset(training=True, seed=...)`). Each
            `fit` reads a new one: the n-th epoch of a dataset's stream is the same in every process only
            while no other iterator has drawn from its shuffle.
        epochs: how many epochs in all.
        backup_dir: where the backup lives (any `tf.io.gfile` path); removed when training finishes. Only
            the chief of a multi-worker job writes it, and all read it: put it on shared storage (gs://).
        validation_data, callbacks, verbose: as for `fit`.
        backup_every_steps: also back up every this many batches (default: at epoch ends only).

    Returns:
        The history of every epoch of the run, those of the processes before a resume included:
        {metric: [value per epoch]}. An epoch resumed mid-way reports the metrics of its batches after
        the resume.

    Example (not run by the test command: it trains a model):
    >>> make_train = lambda: classifier.make_dataset(examples, 32, training=True, seed=0)  # doctest: +SKIP
    >>> history = resumable_fit(classifier, make_train, epochs=3, backup_dir="runs/sst2/backup",  # doctest: +SKIP
    ...                         backup_every_steps=200)
    """
    train_data = make_train_data()
    steps = len(train_data)
    chief = model.distribute_strategy.extended.should_checkpoint
    backup = TrainingBackup(backup_dir, backup_every_steps, write=chief)
    epoch, batch = backup.position
    callbacks = list(callbacks) + [backup]

    def run(train_data, first_epoch, last_epoch, steps_per_epoch, skip):
        backup.starts_at(first_epoch, steps - steps_per_epoch)
        # shuffle=False: the dataset shuffles itself from its seed (Keras would warn that it cannot).
        model.fit(train_data.repeat().skip(skip), validation_data=validation_data, initial_epoch=first_epoch,
                  epochs=last_epoch, steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=verbose,
                  shuffle=False)

    if batch:  # the rest of the interrupted epoch, then the epochs after it
        run(train_data, epoch, epoch + 1, steps - batch, epoch * steps + batch)
        epoch += 1
        train_data = make_train_data()
    if epoch < epochs and not model.stop_training:
        run(train_data, epoch, epochs, steps, epoch * steps)
    if chief and tf.io.gfile.exists(backup_dir):
        tf.io.gfile.rmtree(backup_dir)
    return backup.history
