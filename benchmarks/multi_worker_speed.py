"""One process against two MultiWorkerMirroredStrategy workers on this machine: fit examples/s on SST-2.

    python benchmarks/multi_worker_speed.py --train-rows 3000

Three runs of the default classifier (all-MiniLM-L6-v2) on the same rows and global batch, one after
the other: one process using every core (the anchor), one process limited to one core, and two
workers on 127.0.0.1, one core each, that all-reduce their gradients every step over gRPC. Speed is
global examples/s after the first batches (tracing excluded), as the chief measures it.

On a 2-core machine two workers cannot beat one process: they share the same two cores, and each
step adds an all-reduce of the 22.7M-parameter gradient. What the run shows is that cost; the gain
of more workers comes with more machines (or GPUs), where each worker brings its own compute.

Measured here (2 cores, 3000 rows): one process 184.6 examples/s, one process on one core 120.6, two
one-core workers 71.3: 0.39x the one process, 0.59x the one-core process.
"""

import argparse
import json
import os
import subprocess
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfllm.training.strategy import local_tf_configs  # noqa: E402


def train(args):
    """One training process: prints a JSON line with its examples/s (every worker prints; the chief's counts)."""
    import tensorflow as tf

    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from tfllm.training.strategy import resolve_strategy

    strategy = resolve_strategy("auto")  # first: multi-worker must be set up before any op runs
    import keras

    from common import ExamplesSeen, StepTimer, sst2_path
    from tfllm import ColumnSpec, adamw_with_warmup, build_text_classifier, read_text_examples

    train_rows = read_text_examples(sst2_path("train"), ColumnSpec(text="sentence", label="label")).examples
    keras.utils.set_random_seed(0)
    with strategy.scope():
        classifier = build_text_classifier("all-minilm-l6-v2", ["0", "1"], sequence_length=128, pooling="mean")
        data = classifier.make_dataset(train_rows[: args.train_rows], batch_size=args.batch_size, training=True,
                                       seed=0)
        classifier.compile(optimizer=adamw_with_warmup(1e-4, total_steps=len(data)), metrics=[ExamplesSeen()])
    timer = StepTimer(skip=5)
    classifier.fit(data, epochs=1, verbose=0, callbacks=[timer])
    print(json.dumps({"examples_per_second": timer.per_second(),
                      "replicas": strategy.num_replicas_in_sync}), flush=True)


def run(args, threads=0, workers=1):
    """Starts `workers` processes (a cluster on 127.0.0.1 when more than one); returns the chief's figures."""
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--train-rows", str(args.train_rows),
               "--batch-size", str(args.batch_size), "--threads", str(threads)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(os.path.abspath(__file__)),
                                                        os.environ.get("PYTHONPATH", "")])}
    env.pop("TF_CONFIG", None)
    processes = []
    for tf_config in local_tf_configs(workers) if workers > 1 else [None]:
        if tf_config:
            env = {**env, "TF_CONFIG": tf_config}
        processes.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [process.communicate() for process in processes]
    for process, (_, stderr) in zip(processes, results):
        if process.returncode:
            sys.exit(f"a training process failed:\n{stderr[-3000:]}")
    return json.loads(results[0][0].strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-rows", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=32, help="the global batch")
    parser.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return train(args)
    print(f"{os.cpu_count()} CPU cores; {args.train_rows} SST-2 rows x 1 epoch, global batch {args.batch_size}, "
          "bucketed", flush=True)
    anchor = run(args)
    print(f"1 process, all cores:         {anchor['examples_per_second']:6.1f} examples/s", flush=True)
    one_core = run(args, threads=1)
    print(f"1 process, 1 core:            {one_core['examples_per_second']:6.1f} examples/s", flush=True)
    two = run(args, threads=1, workers=2)
    assert two["replicas"] == 2, two
    print(f"2 workers, 1 core each:       {two['examples_per_second']:6.1f} examples/s", flush=True)
    print(f"2 workers / 1 process (all cores): {two['examples_per_second'] / anchor['examples_per_second']:.2f}x; "
          f"2 workers / 1 process (1 core): {two['examples_per_second'] / one_core['examples_per_second']:.2f}x")


if __name__ == "__main__":
    main()
