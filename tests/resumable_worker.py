"""The training run of test_training's SIGKILL test: a tiny classifier with dropout, resumable.

    python resumable_worker.py PRESET_DIR RUN_DIR OUTPUT.npz [--pause-at EPOCH BATCH]

Trains 3 epochs of 6 batches with `resumable_fit` (a backup every 2 batches) and saves the final
weights in OUTPUT.npz. With --pause-at it prints "paused" after that batch and sleeps, for the test
to kill it there; started again with the same RUN_DIR, it resumes from the backup.
"""

import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from conftest import sentiment_examples  # noqa: E402
from tfllm.backbones import load_bert  # noqa: E402
from tfllm.models.text_classifier import TextClassifier  # noqa: E402
from tfllm.training.optimizer import adamw_with_warmup  # noqa: E402
from tfllm.training.resumable_fit import resumable_fit  # noqa: E402

EPOCHS, BATCH = 3, 16


class PauseAt(keras.callbacks.Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at, self.epoch = (epoch, batch), None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            print("paused", flush=True)
            time.sleep(600)


def main(preset_dir, run_dir, output, pause_at=None):
    keras.utils.set_random_seed(0)
    classifier = TextClassifier(load_bert(preset_dir, sequence_length=16, dropout=0.2), ["negative", "positive"],
                                dropout=0.2, pooling="mean")
    make_data = lambda: classifier.make_dataset(sentiment_examples(96), batch_size=BATCH, training=True,  # noqa: E731
                                                seed=0)
    classifier.compile(optimizer=adamw_with_warmup(3e-3, total_steps=len(make_data()) * EPOCHS))
    callbacks = [PauseAt(*pause_at)] if pause_at else []
    history = resumable_fit(classifier, make_data, EPOCHS, os.path.join(run_dir, "backup"), callbacks=callbacks,
                            verbose=0, backup_every_steps=2)
    np.savez(output, *[w.numpy() for w in classifier.weights], loss=np.array(history["loss"]))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    pause = tuple(map(int, arguments[4:6])) if "--pause-at" in arguments else None
    main(*arguments[:3], pause_at=pause)
