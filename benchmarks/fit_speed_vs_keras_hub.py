"""Fit throughput of tfllm against KerasHub's BertTextClassifier: same backbone, data and batch, one run.

KerasHub pads every example to its preprocessor's sequence length (512 by default); tfllm buckets
batches by length and pads each only to its longest example. Both fine-tune all-MiniLM-L6-v2 (fp32)
on the same SST-2 train rows. Steps after the first few (tracing) are timed.

    python benchmarks/fit_speed_vs_keras_hub.py --rows 512 --batch-size 32
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


def keras_hub_examples_per_second(texts, labels, sequence_length, batch_size, steps):
    source = embedded_default_path()
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(source, sequence_length=sequence_length)
    model = keras_hub.models.BertTextClassifier.from_preset(source, num_classes=2, preprocessor=preprocessor)
    model.compile(optimizer=adamw_with_warmup(5e-5, total_steps=steps))
    data = tf.data.Dataset.from_tensor_slices((texts, labels)).batch(batch_size)
    timer = StepTimer()
    model.fit(data.take(steps), epochs=1, verbose=0, callbacks=[timer])
    return timer.per_second(batch_size)


def tfllm_examples_per_second(examples, batch_size, steps):
    classifier = build_text_classifier("all-minilm-l6-v2", ["0", "1"], sequence_length=128)
    classifier.compile(optimizer=adamw_with_warmup(5e-5, total_steps=steps))
    data = classifier.make_dataset(examples, batch_size=batch_size, training=True, seed=0)
    timer = StepTimer()
    classifier.fit(data.take(steps), epochs=1, verbose=0, callbacks=[timer])
    return timer.per_second(batch_size)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--keras-hub-512-steps", type=int, default=6, help="steps at length 512 (slow)")
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    examples = read_text_examples(sst2_path("train"), ColumnSpec(text="sentence", label="label")).examples[: args.rows]
    texts = np.array([e.text for e in examples])
    labels = np.array([int(e.label) for e in examples])
    steps = len(examples) // args.batch_size
    ours = tfllm_examples_per_second(examples, args.batch_size, steps)
    at_128 = keras_hub_examples_per_second(texts, labels, 128, args.batch_size, min(steps, 12))
    at_512 = keras_hub_examples_per_second(texts, labels, 512, args.batch_size, args.keras_hub_512_steps)
    print(f"fit throughput, all-MiniLM-L6-v2 fp32, SST-2 train rows, batch {args.batch_size}, {os.cpu_count()} CPU cores")
    print(f"  KerasHub BertTextClassifier, sequence length 512 (default): {at_512:8.1f} examples/s")
    print(f"  KerasHub BertTextClassifier, sequence length 128:           {at_128:8.1f} examples/s")
    print(f"  tfllm TextClassifier, length-bucketed (max 128):            {ours:8.1f} examples/s")
    print(f"  ratio vs KerasHub@512: {ours / at_512:.1f}x (target >= 20x); vs KerasHub@128: {ours / at_128:.1f}x (target >= 4x)")


if __name__ == "__main__":
    main()
