"""bfloat16 against float32: fit speed and dev accuracy of the default classifier on SST-2, in one run.

    python benchmarks/mixed_precision.py --train-rows 8000 --rounds 2

Each round trains the embedded default (all-MiniLM-L6-v2) once per precision from the same seed on
the same rows, alternating, so that the shared machine's drifting speed falls on both alike. Speed is
the median over rounds of fit examples/s after the first batches (tracing excluded); accuracy is
SST-2 dev. `--fixed-length` pads every batch to the sequence length, as on TPU.

Measured here (2 CPU cores with AVX512_BF16): bucketed, 8000 rows, float32 177 examples/s and
mixed_bfloat16 205 (1.15x), dev accuracy 0.8601 and 0.8624; `--train-rows 2000 --fixed-length`:
26.4 and 38.5 examples/s (1.46x), dev accuracy 0.7982 and 0.7959. bfloat16 pays most where the
matrices are large: short bucketed batches leave the step's fixed costs in front.
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from common import ExamplesSeen, StepTimer, sst2_path  # noqa: E402
from tfllm import ColumnSpec, adamw_with_warmup, build_text_classifier, read_text_examples  # noqa: E402
from tfllm.training.precision import cpu_has_bfloat16, precision_scope  # noqa: E402

PRECISIONS = ("float32", "mixed_bfloat16")


def train_once(precision, train, dev, args):
    keras.utils.set_random_seed(0)
    with precision_scope(precision):
        classifier = build_text_classifier("all-minilm-l6-v2", ["0", "1"], sequence_length=args.sequence_length,
                                           pooling="mean")
        data = classifier.make_dataset(train, batch_size=args.batch_size, training=True, seed=0,
                                       fixed_length=args.fixed_length)
        classifier.compile(optimizer=adamw_with_warmup(args.learning_rate, total_steps=len(data)),
                           metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy"), ExamplesSeen()])
    timer = StepTimer()
    start = time.perf_counter()
    classifier.fit(data, epochs=1, verbose=0, callbacks=[timer])
    seconds = time.perf_counter() - start
    accuracy = classifier.evaluate(classifier.make_dataset(dev, batch_size=64), verbose=0, return_dict=True)["accuracy"]
    return timer.per_second(), seconds, accuracy


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-rows", type=int, default=8000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--sequence-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--fixed-length", action="store_true")
    args = parser.parse_args()
    columns = ColumnSpec(text="sentence", label="label")
    train = read_text_examples(sst2_path("train"), columns).examples[: args.train_rows]
    dev = read_text_examples(sst2_path("dev"), columns).examples
    print(f"CPU bfloat16 units (AVX512_BF16 or AMX): {cpu_has_bfloat16()}; {len(train)} SST-2 rows x 1 epoch, "
          f"batch {args.batch_size}, {'padded to' if args.fixed_length else 'bucketed, at most'} "
          f"{args.sequence_length} pieces")
    results = {precision: [] for precision in PRECISIONS}
    for round_ in range(args.rounds):
        for precision in PRECISIONS:
            speed, seconds, accuracy = train_once(precision, train, dev, args)
            results[precision].append((speed, accuracy))
            print(f"round {round_ + 1} {precision:>14}: {speed:6.1f} examples/s ({seconds:.0f} s), "
                  f"dev accuracy {accuracy:.4f}", flush=True)
    speeds = {p: statistics.median(s for s, _ in runs) for p, runs in results.items()}
    accuracies = {p: statistics.mean(a for _, a in runs) for p, runs in results.items()}
    for precision in PRECISIONS:
        print(f"{precision:>14}: median {speeds[precision]:.1f} examples/s, mean dev accuracy "
              f"{accuracies[precision]:.4f}")
    print(f"bfloat16 / float32: speed {speeds['mixed_bfloat16'] / speeds['float32']:.2f}x, "
          f"accuracy {accuracies['mixed_bfloat16'] - accuracies['float32']:+.4f}")


if __name__ == "__main__":
    main()
