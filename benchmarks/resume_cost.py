"""What resuming costs, against a training step: writing a backup, restoring one, and finding the place.

    python benchmarks/resume_cost.py --train-rows 67349 --backup-dir /tmp/tfllm-resume-cost

The default classifier (all-MiniLM-L6-v2, AdamW) on SST-2, bucketed batches of 32:
- a training step, the anchor (the mean over a short fit, tracing excluded);
- writing one backup (weights, optimizer moments, generator states, position), as `resumable_fit` does
  every `training.backup_every_steps` batches, and its size;
- restoring it into a freshly built model (what a restarted run does before its first step);
- skipping a new data stream to the middle of the epoch (the host pipeline runs; the model does not).
Building the model and tracing the step are left out: a fresh start pays them too.

Measured here (2 cores, all 67349 rows, 2109 steps an epoch): a step 188 ms; a backup (259 MB) 0.33 s,
1.8 steps, so 0.35% of training time at one per 500 steps; restoring it 0.32 s; skipping the stream to
mid-epoch 3.7 s (20 steps). A crash costs the steps since the last backup (250 on average at 500)
plus about 21 steps' time to resume.
"""

import argparse
import os
import shutil
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from common import StepTimer, sst2_path  # noqa: E402
from tfllm import ColumnSpec, adamw_with_warmup, build_text_classifier, read_text_examples  # noqa: E402
from tfllm.training.resumable_fit import TrainingBackup  # noqa: E402


def build(train, batch_size):
    keras.utils.set_random_seed(0)
    classifier = build_text_classifier("all-minilm-l6-v2", ["0", "1"], sequence_length=128, pooling="mean")
    make_data = lambda: classifier.make_dataset(train, batch_size=batch_size, training=True, seed=0)  # noqa: E731
    classifier.compile(optimizer=adamw_with_warmup(1e-4, total_steps=len(make_data())))
    return classifier, make_data


def timed(call, repeats=1):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-rows", type=int, default=67349)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--backup-dir", default="/tmp/tfllm-resume-cost")
    parser.add_argument("--backup-every-steps", type=int, default=500, help="the interval the overhead is given for")
    args = parser.parse_args()
    train = read_text_examples(sst2_path("train"), ColumnSpec(text="sentence", label="label")).examples
    train = train[: args.train_rows]
    shutil.rmtree(args.backup_dir, ignore_errors=True)

    classifier, make_data = build(train, args.batch_size)
    steps = len(make_data())
    timer = StepTimer(skip=5)
    classifier.fit(make_data().take(45), epochs=1, verbose=0, callbacks=[timer])
    step_seconds = timer.step_seconds()
    backup = TrainingBackup(args.backup_dir)
    backup.set_model(classifier)
    write_seconds = timed(lambda: backup.on_epoch_end(0), repeats=3)
    megabytes = sum(os.path.getsize(os.path.join(args.backup_dir, name))
                    for name in os.listdir(args.backup_dir)) / 2 ** 20

    restarted, make_data = build(train, args.batch_size)
    restarted.fit(make_data().take(1), epochs=1, verbose=0)  # builds it, as `fit` does before restoring
    restore = TrainingBackup(args.backup_dir)
    restore.set_model(restarted)
    restore_seconds = timed(lambda: restore.on_train_begin())
    skip = steps // 2
    skip_seconds = timed(lambda: next(iter(make_data().repeat().skip(skip))))
    shutil.rmtree(args.backup_dir, ignore_errors=True)

    print(f"{len(train)} SST-2 rows, batch {args.batch_size}: {steps} steps an epoch")
    print(f"training step (anchor):         {1000 * step_seconds:8.1f} ms")
    print(f"write a backup ({megabytes:.0f} MB):       {write_seconds:8.2f} s = {write_seconds / step_seconds:5.1f} steps; "
          f"every {args.backup_every_steps} steps: {write_seconds / (args.backup_every_steps * step_seconds):.2%} "
          "of training time")
    print(f"restore it into a new model:    {restore_seconds:8.2f} s = {restore_seconds / step_seconds:5.1f} steps")
    print(f"skip the stream {skip} batches: {skip_seconds:8.2f} s = {skip_seconds / step_seconds:5.1f} steps")
    lost = args.backup_every_steps / 2
    print(f"a crash between backups every {args.backup_every_steps} steps loses {lost:.0f} steps on average; "
          f"resuming mid-epoch adds {(restore_seconds + skip_seconds) / step_seconds:.0f} steps' time on top")


if __name__ == "__main__":
    main()
