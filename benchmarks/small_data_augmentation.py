"""Does augmentation, R-Drop or label smoothing help on small training sets? SST-2 dev accuracy of all-MiniLM-L6-v2
fine-tuned on the first 200 and 1000 train rows, with and without them, over several seeds.

Each run trains a fixed number of epochs (no early stopping, no checkpoint picked on dev) and is scored
on all 872 dev rows; the table gives the mean and spread over seeds and the gain over no remedy.

    python benchmarks/small_data_augmentation.py --rows 200 1000 --seeds 0 1 2
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from common import sst2_path  # noqa: E402
from tfllm import ColumnSpec, adamw_with_warmup, build_text_classifier, read_text_examples  # noqa: E402

NONE = {"token_cutoff": 0.0, "span_cutoff": 0.0, "local_swaps": 0.0}
# name -> (augmentation keywords, compile keywords)
REMEDIES = {
    "none": (NONE, {}),
    "token cutoff 0.1": ({**NONE, "token_cutoff": 0.1}, {}),
    "span cutoff 0.2 + swaps 0.1": ({**NONE, "span_cutoff": 0.2, "local_swaps": 0.1}, {}),
    "R-Drop 1.0": (NONE, {"consistency": 1.0}),
    "token cutoff 0.1 + R-Drop 1.0": ({**NONE, "token_cutoff": 0.1}, {"consistency": 1.0}),
    "label smoothing 0.1": (NONE, {"label_smoothing": 0.1}),
    "keyword cutoff 0.3": ({**NONE, "keyword_cutoff": 0.3}, {}),
}
EPOCHS = {200: 10, 1000: 4}  # about 130 and 250 steps of 16


def dev_accuracy(train, dev, seed, augmentation, compile_options, epochs, learning_rate):
    keras.utils.set_random_seed(seed)
    classifier = build_text_classifier("all-minilm-l6-v2", ["0", "1"], sequence_length=128, pooling="mean")
    data = classifier.make_dataset(train, batch_size=16, training=True, seed=seed, augmentation=augmentation)
    classifier.compile(optimizer=adamw_with_warmup(learning_rate, total_steps=len(data) * epochs),
                       **compile_options)
    classifier.fit(data, epochs=epochs, verbose=0)
    return classifier.evaluate(classifier.make_dataset(dev, batch_size=64), verbose=0)[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--only", nargs="+", choices=list(REMEDIES), help="remedies to run besides none (default: all)")
    args = parser.parse_args()
    columns = ColumnSpec(text="sentence", label="label")
    every_row = read_text_examples(sst2_path("train"), columns).examples
    dev = read_text_examples(sst2_path("dev"), columns).examples
    for rows in args.rows:
        train, epochs = every_row[:rows], EPOCHS.get(rows, max(3, 2000 // rows))
        print(f"\nSST-2, {rows} train rows x {epochs} epochs, dev {len(dev)} rows; seeds {args.seeds}")
        print(f"{'remedy':32s} {'accuracy':>17s} {'gain':>7s}  per seed", flush=True)
        baseline = None
        for name in ["none"] + [n for n in args.only or REMEDIES if n != "none"]:  # gains are over "none"
            augmentation, compile_options = REMEDIES[name]
            start = time.perf_counter()
            scores = [dev_accuracy(train, dev, seed, augmentation, compile_options, epochs, args.learning_rate)
                      for seed in args.seeds]
            mean = statistics.mean(scores)
            spread = statistics.stdev(scores) if len(scores) > 1 else 0.0
            baseline = mean if baseline is None else baseline
            print(f"{name:32s} {mean:.4f} ± {spread:.4f} {mean - baseline:+7.4f}  "
                  f"{' '.join(f'{s:.4f}' for s in scores)}  ({time.perf_counter() - start:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
