"""One worker of the multi-worker tests (test_distribution.py): fits a tiny classifier, saves its weights.

    python distributed_worker.py PRESET_DIR RUN_DIR OUTPUT.npz [--no-fix] [--pause-at EPOCH BATCH]

With TF_CONFIG set it trains under `resolve_strategy("auto")` (MultiWorkerMirroredStrategy); without,
in one process. It trains with `resumable_fit`, backing up to RUN_DIR/backup every 2 batches (the chief
writes, every worker reads), so a killed cluster started again resumes. --pause-at prints "paused"
after that batch and sleeps (see resumable_worker.py); --no-fix leaves Keras unmended, to see whether
upstream still needs the mend.
"""

import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from conftest import sentiment_examples  # noqa: E402
from resumable_worker import PauseAt  # noqa: E402
from tfllm.backbones import load_bert  # noqa: E402
from tfllm.models.text_classifier import TextClassifier  # noqa: E402
from tfllm.training import strategy as strategies  # noqa: E402
from tfllm.training.resumable_fit import resumable_fit  # noqa: E402


def main(preset_dir, run_dir, output, mend=True, pause_at=None):
    if not mend:
        strategies.keras_distribution_fix.apply = lambda: None
    strategy = strategies.resolve_strategy("auto") if os.environ.get("TF_CONFIG") else None
    keras.utils.set_random_seed(0)
    with strategy.scope() if strategy else tf.init_scope():
        classifier = TextClassifier(load_bert(preset_dir, sequence_length=16, dropout=0.0), ["negative", "positive"],
                                    dropout=0.0, pooling="mean")
        # Initializers draw differently under a strategy's scope: start the head from fixed values.
        kernel, bias = classifier.get_layer("logits").get_weights()
        classifier.get_layer("logits").set_weights([np.random.default_rng(0).normal(0, 0.05, kernel.shape), bias])
        # Plain SGD: Adam turns float-rounding differences in near-zero gradients (the all-reduce sums in
        # another order) into whole steps, which would hide whether the runs really agree.
        classifier.compile(optimizer=keras.optimizers.SGD(0.5))
    # The same global batches in both runs: not shuffled (a distributed dataset shuffles in another order),
    # fixed shapes and 8 full batches, each split into two equal halves across the workers.
    data = classifier.make_dataset(sentiment_examples(128), batch_size=16, fixed_length=True)
    history = resumable_fit(classifier, lambda: data, 2, os.path.join(run_dir, "backup"),
                            callbacks=[PauseAt(*pause_at)] if pause_at else [], verbose=0, backup_every_steps=2)
    np.savez(output, loss=np.array(history["loss"]), *[w.numpy() for w in classifier.weights])


if __name__ == "__main__":
    arguments = sys.argv[1:]
    pause = tuple(map(int, arguments[arguments.index("--pause-at") + 1:][:2])) if "--pause-at" in arguments else None
    main(*arguments[:3], mend="--no-fix" not in arguments, pause_at=pause)
