"""Distils an SST-2 teacher (all-MiniLM-L6-v2 fine-tuned, 6 layers) into 3- and 2-layer students and
compares dev accuracy and the exported SavedModels' serving speed side by side.

    python benchmarks/distillation.py  # the README's table: --layers 3:1024 3 2 --unlabeled-rows 48000
    python benchmarks/distillation.py --unlabeled-rows 16000 --layers 3:768 --no-ablation

The teacher is `sst2_accuracy.py`'s recipe (kept in --work-dir, so a rerun trains only the students).
Each student (--layers: its layer count, or layers:feed-forward width for one whose layers keep only
that many of the teacher's feed-forward units) starts from every k-th layer of the teacher
(`student_of`) and learns the teacher's
softened predictions plus the labels on the same rows, and the teacher's predictions alone on
--unlabeled-rows further SST-2 train rows whose labels are dropped. The ablation (--ablation) trains
the first student on the labels alone, to show what the teacher adds. Serving: each model is
exported as `tfllm export` does and timed in interleaved rounds on all dev sentences, batches of
--batch-size sorted by length (sentences/s), and one sentence per request (p50 latency).
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import serving_speed, sst2_path, trained_sst2_classifier  # noqa: E402
from tfllm import (ColumnSpec, Distillation, TextClassifier, adamw_with_warmup, export_for_serving,  # noqa: E402
                   read_text_examples, student_of)
from tfllm.data.examples import TextExample  # noqa: E402


def fit(model, train, epochs, learning_rate, batch_size, unlabeled=(), distillation=None):
    """Trains `model` (a student when `distillation` is given); returns the training seconds."""
    data = model.make_dataset(train, batch_size=batch_size, training=True, seed=0, unlabeled=unlabeled)
    model.compile(optimizer=adamw_with_warmup(learning_rate, total_steps=len(data) * epochs),
                  distillation=distillation)
    start = time.perf_counter()
    model.fit(data, epochs=epochs, verbose=2)
    return time.perf_counter() - start


def trained(directory, train):
    """The model `train()` returns, kept in `directory` so that a rerun (after a failed export) reads it back."""
    if os.path.exists(os.path.join(directory, "tfllm.json")):
        print(f"read from {directory}")
        return TextClassifier.load(directory)
    model = train()
    model.save_to_dir(directory)
    return model


def student_shape(value):
    """--layers' "3" or "3:768": (layers, feed-forward width or None)."""
    layers, _, width = value.partition(":")
    return int(layers), int(width) if width else None


def described(layers, width):
    return f"{layers} layers" + (f", FFN {width}" if width else "")


def accuracy(model, dev):
    predicted = model.predict_probabilities(dev).argmax(-1)
    return sum(int(model.labels.names[p] == e.label) for p, e in zip(predicted, dev)) / len(dev)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-rows", type=int, default=16000)
    parser.add_argument("--unlabeled-rows", type=int, default=48000, help="further train rows, labels dropped")
    parser.add_argument("--epochs", type=int, default=2, help="teacher and students")
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--layers", type=student_shape, nargs="+", default=[(3, 1024), (3, None), (2, None)],
                        metavar="LAYERS[:WIDTH]", help="students: layers, and a narrower feed-forward width")
    parser.add_argument("--seed", type=int, default=0, help="the students' (the teacher keeps its own)")
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--soft-weight", type=float, default=0.5)
    parser.add_argument("--ablation", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--batch-size", type=int, default=32, help="training, and serving batches")
    parser.add_argument("--latency-requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work-dir", default="runs/distillation_benchmark")
    args = parser.parse_args()
    columns = ColumnSpec(text="sentence", label="label")
    rows = read_text_examples(sst2_path("train"), columns).examples
    train = rows[:args.train_rows]
    unlabeled = [TextExample(e.text, None, None, e.source)
                 for e in rows[args.train_rows:args.train_rows + args.unlabeled_rows]]
    dev = read_text_examples(sst2_path("dev"), columns).examples

    teacher = trained_sst2_classifier(os.path.join(args.work_dir, f"teacher_{args.train_rows}"), args.train_rows,
                                      args.epochs, args.learning_rate, args.batch_size)
    models = {"teacher (6 layers)": (teacher, accuracy(teacher, dev))}
    distillation = Distillation(teacher, args.temperature, args.soft_weight)
    setting = f"{args.train_rows}_{args.epochs}_{args.learning_rate}" + (f"_seed{args.seed}" if args.seed else "")

    def distilled(layers, width):
        keras.utils.set_random_seed(args.seed)
        student = student_of(teacher, layers, intermediate_dim=width)
        seconds = fit(student, train, args.epochs, args.learning_rate, args.batch_size, unlabeled, distillation)
        print(f"{described(layers, width)} student: {len(train)} labeled + {len(unlabeled)} unlabeled rows x "
              f"{args.epochs} epochs in {seconds:.0f} s")
        return student

    def labels_only(layers, width):
        keras.utils.set_random_seed(args.seed)
        plain = student_of(teacher, layers, intermediate_dim=width)
        fit(plain, train, args.epochs, args.learning_rate, args.batch_size)
        return plain

    for layers, width in args.layers:
        shape = f"{layers}" + (f"x{width}" if width else "")  # the directory names of full-width students as before
        student = trained(os.path.join(args.work_dir, f"student_{shape}_{setting}_{args.unlabeled_rows}_"
                                                      f"{args.temperature}_{args.soft_weight}"),
                          lambda layers=layers, width=width: distilled(layers, width))
        models[f"distilled, {described(layers, width)}"] = (student, accuracy(student, dev))
    if args.ablation:
        layers, width = args.layers[0]
        shape = f"{layers}" + (f"x{width}" if width else "")
        plain = trained(os.path.join(args.work_dir, f"labels_only_{shape}_{setting}"),
                        lambda: labels_only(layers, width))
        models[f"labels only, {described(layers, width)}"] = (plain, accuracy(plain, dev))

    with tempfile.TemporaryDirectory() as root:
        served = {}
        for version, (name, (model, _)) in enumerate(models.items(), 1):
            path, _ = export_for_serving(model.server(), root, "sst2", version, {"task": "text_classification"})
            signature = tf.saved_model.load(path).signatures["serving_default"]
            served[name] = lambda batch, call=signature: call(tf.constant(batch))["label_ids"].numpy()
        speed = serving_speed(served, [e.text for e in dev], args.batch_size, args.latency_requests, args.rounds)
    teacher_accuracy = models["teacher (6 layers)"][1]
    teacher_speed, teacher_latency = speed["teacher (6 layers)"]
    print(f"\nSST-2 dev ({len(dev)} rows); exported SavedModels, median of {args.rounds} interleaved rounds "
          f"({os.cpu_count()} CPU cores):")
    print(f"{'model':<32} {'dev acc':>8} {'vs teacher':>11} {'sentences/s':>12} {'x':>6} {'p50 ms':>7} {'x':>6}")
    for name, (model, dev_accuracy) in models.items():
        sentences, p50 = speed[name]
        print(f"{name:<32} {dev_accuracy:>8.4f} {100 * (dev_accuracy - teacher_accuracy):>+10.2f}p "
              f"{sentences:>12.1f} {sentences / teacher_speed:>6.2f} {p50:>7.1f} {teacher_latency / p50:>6.2f}")
    print("target: a student at >= 2x the teacher's throughput within 1 point of its accuracy")


if __name__ == "__main__":
    main()
