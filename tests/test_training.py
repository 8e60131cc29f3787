import json
import os

import keras
import numpy as np
import pytest

from conftest import sentiment_examples
from tfllm.backbones import load_backbone
from tfllm.tasks.text_classifier import TextClassifier
from tfllm.training.callbacks import training_callbacks
from tfllm.training.optimizer import adamw_with_warmup

BATCH, EPOCHS = 16, 4


class Interrupted(Exception):
    pass


class Recorder(keras.callbacks.Callback):
    """Records the epochs run, the optimizer step at each start, and the weights at each end; can crash mid-epoch."""

    def __init__(self, crash_in_epoch=None):
        super().__init__()
        self.crash_in_epoch, self.epochs, self.start_steps = crash_in_epoch, [], []
        self.start_weights, self.end_weights = {}, {}

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)
        self.start_steps.append(int(self.model.optimizer.iterations.numpy()))
        self.start_weights[epoch] = [w.copy() for w in self.model.get_weights()]

    def on_train_batch_end(self, batch, logs=None):
        if self.epochs[-1] == self.crash_in_epoch and batch == 1:
            raise Interrupted()

    def on_epoch_end(self, epoch, logs=None):
        self.end_weights[epoch] = [w.copy() for w in self.model.get_weights()]


def fit(preset_dir, run_dir, recorder, learning_rate=3e-3, patience=None, epochs=EPOCHS):
    keras.utils.set_random_seed(0)
    classifier = TextClassifier(load_backbone(preset_dir), ["negative", "positive"], pooling="mean")
    train = classifier.make_dataset(sentiment_examples(96), batch_size=BATCH, training=True, seed=0)
    validation = classifier.make_dataset(sentiment_examples(32, seed=3), batch_size=BATCH)
    classifier.compile(optimizer=adamw_with_warmup(learning_rate, total_steps=96 // BATCH * epochs))
    callbacks = training_callbacks(str(run_dir), patience=patience) + [recorder]
    return classifier.fit(train, validation_data=validation, epochs=epochs, verbose=0, callbacks=callbacks)


def test_interrupted_fit_resumes_where_it_stopped(keras_hub_preset_dir, tmp_path):
    first = Recorder(crash_in_epoch=2)
    with pytest.raises(Interrupted):
        fit(keras_hub_preset_dir, tmp_path, first)
    record = json.load(open(tmp_path / "checkpoints" / "best.weights.h5.json"))
    assert record["monitor"] == "val_loss" and record["epoch"] in (1, 2)

    # A resumed run must beat the best so far before it replaces the best weights.
    assert training_callbacks(str(tmp_path))[1].best == record["best"]

    resumed = Recorder()
    fit(keras_hub_preset_dir, tmp_path, resumed)
    assert resumed.epochs == [2, 3]
    assert resumed.start_steps[0] == 2 * (96 // BATCH)  # the optimizer state came back too
    for restored, saved in zip(resumed.start_weights[2], first.end_weights[1]):
        np.testing.assert_array_equal(restored, saved)
    assert not os.path.exists(tmp_path / "backup")  # a finished run leaves nothing to resume
    assert training_callbacks(str(tmp_path))[1].best is None


def test_early_stopping_stops_when_validation_loss_stops_improving(keras_hub_preset_dir, tmp_path):
    # A learning rate of 0 freezes the weights, so the validation loss never improves after epoch 1.
    history = fit(keras_hub_preset_dir, tmp_path, Recorder(), learning_rate=0.0, patience=2, epochs=10)
    assert len(history.history["val_loss"]) == 3
