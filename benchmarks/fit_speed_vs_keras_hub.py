"""Fit throughput and accuracy of tfllm against KerasHub's BertTextClassifier, in one run.

Both fine-tune all-MiniLM-L6-v2 (fp32) on the same SST-2 train rows with the same optimizer and
batch, then both are scored on SST-2 dev. KerasHub pads every example to its preprocessor's sequence
length (512 by default); tfllm buckets batches by length and pads each only to its longest example.
KerasHub at 512 is only timed over a few steps (it runs at about 1 example/s here); its accuracy
would equal KerasHub at 128, since no SST-2 sentence is longer than 128 word pieces and padding is
masked. Steps after the first few (tracing) are timed.

    python benchmarks/fit_speed_vs_keras_hub.py --rows 1024 --batch-size 32
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import StepTimer, sst2_path  # noqa: E402
from tfllm import ColumnSpec, adamw_with_warmup, build_text_classifier, read_text_examples  # noqa: E402
from tfllm.backbones import embedded_default_path  # noqa: E402


def keras_hub_run(train, dev, sequence_length, batch_size, steps, score):
    """KerasHub's examples/s over `steps` training steps, and its dev accuracy if `score`."""
    keras.utils.set_random_seed(0)
    source = embedded_default_path()
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(source, sequence_length=sequence_length)
    model = keras_hub.models.BertTextClassifier.from_preset(source, num_classes=2, preprocessor=preprocessor)
    model.compile(optimizer=adamw_with_warmup(5e-5, total_steps=steps), metrics=["accuracy"])
    data = tf.data.Dataset.from_tensor_slices(_texts_and_labels(train)).shuffle(len(train), seed=0).batch(batch_size)
    timer = StepTimer()
    model.fit(data.take(steps), epochs=1, verbose=0, callbacks=[timer])
    if not score:
        return timer.per_second(batch_size), None
    _, accuracy = model.evaluate(tf.data.Dataset.from_tensor_slices(_texts_and_labels(dev)).batch(64), verbose=0)
    return timer.per_second(batch_size), accuracy


def tfllm_run(train, dev, batch_size, steps):
    """tfllm's examples/s and dev accuracy."""
    keras.utils.set_random_seed(0)
    classifier = build_text_classifier("all-minilm-l6-v2", ["0", "1"], sequence_length=128, pooling="mean")
    classifier.compile(optimizer=adamw_with_warmup(5e-5, total_steps=steps))
    data = classifier.make_dataset(train, batch_size=batch_size, training=True, seed=0)
    timer = StepTimer()
    classifier.fit(data.take(steps), epochs=1, verbose=0, callbacks=[timer])
    _, accuracy, _ = classifier.evaluate(classifier.make_dataset(dev, batch_size=64), verbose=0)
    return timer.per_second(batch_size), accuracy


def _texts_and_labels(examples):
    return np.array([e.text for e in examples]), np.array([int(e.label) for e in examples])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1024, help="SST-2 train rows both models train on (one epoch)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--keras-hub-512-steps", type=int, default=6, help="steps timed at length 512 (slow)")
    args = parser.parse_args()
    columns = ColumnSpec(text="sentence", label="label")
    train = read_text_examples(sst2_path("train"), columns).examples[: args.rows]
    dev = read_text_examples(sst2_path("dev"), columns).examples
    steps = len(train) // args.batch_size
    ours, our_accuracy = tfllm_run(train, dev, args.batch_size, steps)
    at_128, accuracy_128 = keras_hub_run(train, dev, 128, args.batch_size, steps, score=True)
    at_512, _ = keras_hub_run(train, dev, 512, args.batch_size, args.keras_hub_512_steps, score=False)
    print(f"all-MiniLM-L6-v2 fp32, {steps} steps of batch {args.batch_size} on SST-2 train, "
          f"{os.cpu_count()} CPU cores; accuracy on SST-2 dev ({len(dev)} rows)")
    print(f"  KerasHub BertTextClassifier, sequence length 512 (default): {at_512:7.1f} examples/s"
          f"   (timed over {args.keras_hub_512_steps} steps only)")
    print(f"  KerasHub BertTextClassifier, sequence length 128:           {at_128:7.1f} examples/s"
          f"   dev accuracy {accuracy_128:.4f}")
    print(f"  tfllm TextClassifier, length-bucketed (max 128):            {ours:7.1f} examples/s"
          f"   dev accuracy {our_accuracy:.4f}")
    print(f"  speed: {ours / at_512:.1f}x KerasHub@512 (target >= 20x), {ours / at_128:.1f}x KerasHub@128 "
          f"(target >= 4x); accuracy difference vs KerasHub@128: {our_accuracy - accuracy_128:+.4f}")


if __name__ == "__main__":
    main()
