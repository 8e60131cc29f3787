"""Fine-tunes the embedded default (all-MiniLM-L6-v2) on SST-2 train rows and reports dev accuracy.

    python benchmarks/sst2_accuracy.py --train-rows 16000 --epochs 2 --learning-rate 1e-4

Dev accuracy 0.8704 from 16000 rows x 2 epochs at 1e-4 (2 CPU cores, about 5 min of training;
the README's benchmark table has the machine and date).
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from common import sst2_path  # noqa: E402
from tfllm import ColumnSpec, adamw_with_warmup, build_text_classifier, read_text_examples  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-rows", type=int, default=16000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--pooling", default="mean", choices=["cls", "mean"])
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    columns = ColumnSpec(text="sentence", label="label")
    train = read_text_examples(sst2_path("train"), columns).examples[: args.train_rows]
    dev = read_text_examples(sst2_path("dev"), columns).examples
    classifier = build_text_classifier("all-minilm-l6-v2", ["0", "1"], sequence_length=128, pooling=args.pooling)
    data = classifier.make_dataset(train, batch_size=args.batch_size, training=True, seed=0)
    classifier.compile(optimizer=adamw_with_warmup(args.learning_rate, total_steps=len(data) * args.epochs))
    start = time.perf_counter()
    classifier.fit(data, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start
    loss, accuracy, macro_f1 = classifier.evaluate(classifier.make_dataset(dev, batch_size=64), verbose=0)
    print(f"SST-2: trained on {len(train)} rows x {args.epochs} epochs in {seconds:.0f} s "
          f"({len(train) * args.epochs / seconds:.1f} examples/s)")
    print(f"SST-2 dev ({len(dev)} rows): accuracy {accuracy:.4f}, macro F1 {macro_f1:.4f}, loss {loss:.4f} "
          f"(target: accuracy >= 0.88)")


if __name__ == "__main__":
    main()
