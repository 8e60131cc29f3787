"""Fit throughput and accuracy of tfllm against KerasHub's BertTextClassifier, in one run.

Both fine-tune all-MiniLM-L6-v2 (fp32) on the same SST-2 train rows with the same optimizer and
batch, then both are scored on SST-2 dev. KerasHub pads every example to its preprocessor's sequence
length (512 by default); tfllm buckets batches by length and pads each only to its longest example.

The three are timed in interleaved rounds (tfllm, KerasHub@128, KerasHub@512, then again), so drift
on a shared machine falls on all of them alike: each round trains every model on the next share of
the batches of one epoch (the rows are shuffled once, so every round slices the same batch stream). Speed is the examples the timed batches really held (bucketing makes some batches partial)
over their wall time; each model's first batches (tracing) are not timed. KerasHub at 512 trains only
a few batches a round (it runs at about 1 example/s here) and is not scored: its accuracy would equal
KerasHub at 128, since no SST-2 sentence is longer than 128 word pieces and padding is masked.

    python benchmarks/fit_speed_vs_keras_hub.py --rows 1024 --batch-size 32
"""

import argparse
import os
import random

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import ExamplesSeen, StepTimer, sst2_path  # noqa: E402
from tfllm import ColumnSpec, adamw_with_warmup, build_text_classifier, read_text_examples  # noqa: E402
from tfllm.backbones import embedded_default_path  # noqa: E402


def accuracy_metrics():
    return [keras.metrics.SparseCategoricalAccuracy("accuracy"), ExamplesSeen()]


def keras_hub_classifier(sequence_length, total_steps):
    keras.utils.set_random_seed(0)
    source = embedded_default_path()
    preprocessor = keras_hub.models.BertTextClassifierPreprocessor.from_preset(source, sequence_length=sequence_length)
    model = keras_hub.models.BertTextClassifier.from_preset(source, num_classes=2, preprocessor=preprocessor)
    model.compile(optimizer=adamw_with_warmup(5e-5, total_steps=total_steps), metrics=accuracy_metrics())
    return model


def keras_hub_data(examples, batch_size):
    """Raw strings and labels, batched in order: KerasHub's preprocessor runs inside the model."""
    texts, labels = np.array([e.text for e in examples]), np.array([int(e.label) for e in examples])
    return tf.data.Dataset.from_tensor_slices((texts, labels)).batch(batch_size)


def tfllm_classifier(train, batch_size):
    """The classifier and its bucketed dataset of `train` in order (the schedule spans its real batches)."""
    keras.utils.set_random_seed(0)
    classifier = build_text_classifier("all-minilm-l6-v2", ["0", "1"], sequence_length=128, pooling="mean")
    data = classifier.make_dataset(train, batch_size=batch_size)
    classifier.compile(optimizer=adamw_with_warmup(5e-5, total_steps=len(data)), metrics=accuracy_metrics())
    return classifier, data


def rounds_of(data, rounds):
    """`data`'s batches cut into `rounds` consecutive slices."""
    bounds = [len(data) * r // rounds for r in range(rounds + 1)]
    return [data.skip(start).take(end - start) for start, end in zip(bounds, bounds[1:])]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1024, help="SST-2 train rows both models train on (one epoch)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keras-hub-512-steps", type=int, default=2, help="batches a round at length 512 (slow)")
    args = parser.parse_args()
    columns = ColumnSpec(text="sentence", label="label")
    train = read_text_examples(sst2_path("train"), columns).examples[: args.rows]
    dev = read_text_examples(sst2_path("dev"), columns).examples
    random.Random(0).shuffle(train)

    ours, our_data = tfllm_classifier(train, args.batch_size)
    hub_data = keras_hub_data(train, args.batch_size)
    our_rounds, hub_rounds = rounds_of(our_data, args.rounds), rounds_of(hub_data, args.rounds)
    at_128 = keras_hub_classifier(128, len(hub_data))
    at_512 = keras_hub_classifier(512, args.rounds * args.keras_hub_512_steps)
    timers = {"tfllm": StepTimer(skip=3), "128": StepTimer(skip=3), "512": StepTimer(skip=1)}
    for round_ in range(args.rounds):
        ours.fit(our_rounds[round_], epochs=1, verbose=0, callbacks=[timers["tfllm"]])
        at_128.fit(hub_rounds[round_], epochs=1, verbose=0, callbacks=[timers["128"]])
        at_512.fit(hub_rounds[round_].take(args.keras_hub_512_steps), epochs=1, verbose=0, callbacks=[timers["512"]])
        print(f"round {round_ + 1}/{args.rounds}: tfllm {timers['tfllm'].per_second():.1f}, KerasHub@128 "
              f"{timers['128'].per_second():.1f}, @512 {timers['512'].per_second():.1f} examples/s so far", flush=True)
    our_accuracy = ours.evaluate(ours.make_dataset(dev, batch_size=64), verbose=0, return_dict=True)["accuracy"]
    accuracy_128 = at_128.evaluate(keras_hub_data(dev, 64), verbose=0, return_dict=True)["accuracy"]

    speed = {name: timer.per_second() for name, timer in timers.items()}
    timed = {name: f"{timer.examples} examples in {timer.batches - timer.skip} batches"
             for name, timer in timers.items()}
    print(f"all-MiniLM-L6-v2 fp32, {len(train)} SST-2 train rows (one epoch; batch {args.batch_size}) in "
          f"{args.rounds} interleaved rounds, {os.cpu_count()} CPU cores; accuracy on SST-2 dev ({len(dev)} rows)")
    print(f"  KerasHub BertTextClassifier, sequence length 512 (default): {speed['512']:7.1f} examples/s"
          f"   ({timed['512']} timed)")
    print(f"  KerasHub BertTextClassifier, sequence length 128:           {speed['128']:7.1f} examples/s"
          f"   dev accuracy {accuracy_128:.4f} ({timed['128']} timed)")
    print(f"  tfllm TextClassifier, length-bucketed (max 128):            {speed['tfllm']:7.1f} examples/s"
          f"   dev accuracy {our_accuracy:.4f} ({timed['tfllm']} timed)")
    print(f"  speed: {speed['tfllm'] / speed['512']:.1f}x KerasHub@512 (target >= 20x), "
          f"{speed['tfllm'] / speed['128']:.1f}x KerasHub@128 (target >= 4x); "
          f"accuracy difference vs KerasHub@128: {our_accuracy - accuracy_128:+.4f}")


if __name__ == "__main__":
    main()
