import glob
import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import sentiment_examples
from tfllm.backbones import load_bert
from tfllm.models.text_classifier import TextClassifier
from tfllm.training.callbacks import backup_dir, training_callbacks
from tfllm.training.optimizer import adamw_with_warmup
from tfllm.training.resumable_fit import resumable_fit

BATCH, EPOCHS = 16, 4


WORKER = os.path.join(os.path.dirname(__file__), "resumable_worker.py")


def run_worker(preset_dir, run_dir, output, *flags):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, WORKER, preset_dir, str(run_dir), str(output), *flags], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def final_weights(path):
    saved = np.load(path)
    return saved["loss"], [saved[f"arr_{i}"] for i in range(len(saved.files) - 1)]


def test_sigkilled_fit_resumes_mid_epoch_to_the_uninterrupted_weights(keras_hub_preset_dir, tmp_path):
    killed = run_worker(keras_hub_preset_dir, tmp_path / "run", tmp_path / "unused.npz", "--pause-at", "1", "2")
    log = []
    for line in killed.stdout:  # the worker's log, until it pauses (or ends, which fails below)
        log.append(line)
        if line.strip() == "paused":
            break
    assert log and log[-1].strip() == "paused", "".join(log)
    killed.send_signal(signal.SIGKILL)  # after batch 3 of epoch 2; the last backup is from batch 2
    killed.wait()
    state = json.load(open(tmp_path / "run" / "backup" / "state.json"))
    assert (state["epoch"], state["batch"]) == (1, 2) and state["seed_states"]

    resumed = run_worker(keras_hub_preset_dir, tmp_path / "run", tmp_path / "resumed.npz")
    uninterrupted = run_worker(keras_hub_preset_dir, tmp_path / "clean", tmp_path / "clean.npz")
    for process in (resumed, uninterrupted):
        log = process.communicate(timeout=600)[0]
        assert process.returncode == 0, log
    resumed_loss, resumed_weights = final_weights(tmp_path / "resumed.npz")
    clean_loss, clean_weights = final_weights(tmp_path / "clean.npz")
    # The history is the whole run's: epoch 1 from the killed process, the rest of 2 and 3 from this one.
    assert len(resumed_loss) == 3 and resumed_loss[0] == clean_loss[0] and resumed_loss[2] == clean_loss[2]
    # The resumed run repeats the uninterrupted run's computations one for one (same batches, same dropout
    # masks, same optimizer state), so the weights agree to the last bit on one machine.
    for resumed_weight, clean_weight in zip(resumed_weights, clean_weights):
        np.testing.assert_array_equal(resumed_weight, clean_weight)
    assert not os.path.exists(tmp_path / "run" / "backup")  # a finished run leaves nothing to resume


class Interrupted(Exception):
    pass


class Recorder(keras.callbacks.Callback):
    """Records the epochs run and the optimizer step at each start; can crash mid-epoch (after `crash_at`'s
    batch of its epoch, before that batch's backup)."""

    def __init__(self, crash_in_epoch=None, crash_at_batch=1):
        super().__init__()
        self.crash_at, self.epochs, self.start_steps = (crash_in_epoch, crash_at_batch), [], []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)
        self.start_steps.append(int(self.model.optimizer.iterations.numpy()))

    def on_train_batch_end(self, batch, logs=None):
        if (self.epochs[-1], batch) == self.crash_at:
            raise Interrupted()


def fit(preset_dir, run_dir, recorder, learning_rate=3e-3, patience=None, epochs=EPOCHS, steps_per_execution=1,
        backup_every_steps=None):
    keras.utils.set_random_seed(0)
    classifier = TextClassifier(load_bert(preset_dir), ["negative", "positive"], pooling="mean")
    make_train = lambda: classifier.make_dataset(sentiment_examples(96), batch_size=BATCH, training=True,  # noqa: E731
                                                 seed=0)
    validation = classifier.make_dataset(sentiment_examples(32, seed=3), batch_size=BATCH)
    classifier.compile(optimizer=adamw_with_warmup(learning_rate, total_steps=96 // BATCH * epochs),
                       steps_per_execution=steps_per_execution)
    callbacks = training_callbacks(str(run_dir), patience=patience) + [recorder]
    history = resumable_fit(classifier, make_train, epochs, backup_dir(str(run_dir)), validation, callbacks,
                            verbose=0, backup_every_steps=backup_every_steps)
    return history, [w.numpy() for w in classifier.weights]


def test_interrupted_fit_keeps_its_best_checkpoint_record(keras_hub_preset_dir, tmp_path):
    with pytest.raises(Interrupted):
        fit(keras_hub_preset_dir, tmp_path, Recorder(crash_in_epoch=2))
    record = json.load(open(tmp_path / "checkpoints" / "best.weights.h5.json"))
    assert record["monitor"] == "val_loss" and record["epoch"] in (1, 2)

    # A resumed run must beat the best so far before it replaces the best weights.
    assert training_callbacks(str(tmp_path))[1].best == record["best"]

    resumed = Recorder()
    history, _ = fit(keras_hub_preset_dir, tmp_path, resumed)
    assert resumed.epochs == [2, 3]
    assert resumed.start_steps[0] == 2 * (96 // BATCH)  # the optimizer state came back too
    # The whole run's history, in the returned one and in TensorBoard, the epochs before the crash included.
    assert len(history["loss"]) == len(history["val_loss"]) == 4
    events = tf.compat.v1.train.summary_iterator
    steps = {event.step for path in glob.glob(str(tmp_path / "tensorboard" / "train" / "*"))
             for event in events(path) for value in event.summary.value if value.tag == "epoch_loss"}
    assert steps == {0, 1, 2, 3}
    assert training_callbacks(str(tmp_path))[1].best is None


def test_early_stopping_stops_when_validation_loss_stops_improving(keras_hub_preset_dir, tmp_path):
    # A learning rate of 0 freezes the weights, so the validation loss never improves after epoch 1.
    history, _ = fit(keras_hub_preset_dir, tmp_path, Recorder(), learning_rate=0.0, patience=2, epochs=10)
    assert len(history["val_loss"]) == 3


def test_a_run_in_a_bucket_with_steps_per_execution_resumes_to_the_uninterrupted_weights(keras_hub_preset_dir,
                                                                                         tmp_path):
    # 6 batches an epoch, run 2 per compiled call, backed up every 2 to a file:// URL (the gs:// code path).
    # The crash comes after batch 4 of epoch 3 and before its backup: the run resumes after batch 2.
    run_dir = f"file://{tmp_path}/run"
    with pytest.raises(Interrupted):
        fit(keras_hub_preset_dir, run_dir, Recorder(crash_in_epoch=2, crash_at_batch=3), steps_per_execution=2,
            backup_every_steps=2)
    state = json.load(open(tmp_path / "run" / "backup" / "state.json"))
    assert (state["epoch"], state["batch"]) == (2, 2)
    resumed = Recorder()
    _, resumed_weights = fit(keras_hub_preset_dir, run_dir, resumed, steps_per_execution=2, backup_every_steps=2)
    assert resumed.epochs == [2, 3] and resumed.start_steps[0] == 2 * 6 + 2

    _, clean_weights = fit(keras_hub_preset_dir, tmp_path / "clean", Recorder(), steps_per_execution=2)
    _, one_step_weights = fit(keras_hub_preset_dir, tmp_path / "one_step", Recorder())
    for resumed_weight, clean_weight, one_step_weight in zip(resumed_weights, clean_weights, one_step_weights):
        np.testing.assert_array_equal(resumed_weight, clean_weight)
        # Running 2 steps per call changes the grouping of steps, not their arithmetic.
        np.testing.assert_allclose(clean_weight, one_step_weight, rtol=0, atol=1e-6)
