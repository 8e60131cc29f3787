"""Shared by the benchmarks: files of ../shared/data, timing of training steps and request latency."""

import os
import statistics
import sys
import time

import keras

SHARED_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")


def shared_path(*parts):
    """A file of ../shared/data; exits with a clear message when it is not there."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        sys.exit(f"needs {path}: the shared data folder beside the checkout")
    return path


def sst2_path(split):
    return shared_path("sst2", f"{split}.tsv")


class ExamplesSeen(keras.metrics.Metric):
    """Rows the model has trained on this epoch: what `StepTimer` counts, since bucketed batches vary in size."""

    def __init__(self, name="examples", **kwargs):
        super().__init__(name=name, **kwargs)
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.count.assign_add(keras.ops.cast(keras.ops.shape(y_pred)[0], self.count.dtype))

    def result(self):
        return self.count


class StepTimer(keras.callbacks.Callback):
    """Wall time and examples of the training batches after the first `skip` (tracing and warmup excluded).

    Counts the rows each batch really holds (length bucketing makes partial batches), from the
    `ExamplesSeen` metric the model must be compiled with. One timer may span several `fit` calls.
    """

    def __init__(self, skip=3):
        super().__init__()
        self.skip, self.batches, self.seconds, self.examples = skip, 0, 0.0, 0

    def on_epoch_begin(self, epoch, logs=None):
        self._seen = 0  # Keras resets metrics at each epoch

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        seconds = time.perf_counter() - self._start
        seen = int(logs["examples"]) if "examples" in logs else None
        self.batches += 1
        if self.batches > self.skip:
            self.seconds += seconds
            self.examples = None if seen is None or self.examples is None else self.examples + seen - self._seen
        self._seen = seen

    def step_seconds(self):
        """Mean wall time of a timed batch."""
        return self.seconds / (self.batches - self.skip)

    def per_second(self):
        """Examples per second over the timed batches."""
        if self.examples is None:
            raise ValueError("StepTimer counts examples through the ExamplesSeen metric: compile the model with it")
        return self.examples / self.seconds


def median_request_milliseconds(call, requests):
    """Median wall time in ms of `call(*request)` over `requests`, after one untimed call (tracing)."""
    call(*requests[0])
    times = []
    for request in requests:
        start = time.perf_counter()
        call(*request)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def by_length(texts, batch_size, call):
    """`call(batch)` on batches of `texts` sorted by length (as a client batching requests would); its
    outputs in the input order."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    outputs = [None] * len(texts)
    for start in range(0, len(texts), batch_size):
        rows = order[start:start + batch_size]
        for row, output in zip(rows, call([texts[i] for i in rows])):
            outputs[row] = output
    return outputs


def serving_speed(served, texts, batch_size, latency_requests, rounds):
    """Throughput and p50 latency of exported models, timed in interleaved rounds (so drift in the
    machine's load touches every model alike); the median round of each.

    Args:
        served: {name: call(list of texts) -> per-text outputs}, e.g. a loaded signature's.
        texts: all of them are answered in batches of `batch_size` sorted by length (sentences/s).
        latency_requests: the first this many texts are sent one per request (p50 ms).
        rounds: timing rounds.

    Returns {name: (sentences per second, p50 milliseconds)}.
    """
    throughput = {name: [] for name in served}
    latency = {name: [] for name in served}
    requests = [(text,) for text in texts[:latency_requests]]
    for _ in range(rounds):
        for name, call in served.items():
            by_length(texts[:batch_size], batch_size, call)  # tracing
            start = time.perf_counter()
            by_length(texts, batch_size, call)
            throughput[name].append(len(texts) / (time.perf_counter() - start))
            latency[name].append(median_request_milliseconds(lambda text, call=call: call([text]), requests))
    return {name: (statistics.median(throughput[name]), statistics.median(latency[name])) for name in served}


def trained_sst2_classifier(directory, train_rows, epochs=2, learning_rate=1e-4, batch_size=32):
    """all-MiniLM-L6-v2 fine-tuned on the first `train_rows` SST-2 train rows (`sst2_accuracy.py`'s
    recipe), kept in `directory`: a rerun reads it back instead of training again."""
    from tfllm import ColumnSpec, TextClassifier, adamw_with_warmup, build_text_classifier, read_text_examples

    if os.path.exists(os.path.join(directory, "tfllm.json")):
        print(f"SST-2 classifier: read from {directory}")
        return TextClassifier.load(directory)
    train = read_text_examples(sst2_path("train"), ColumnSpec(text="sentence", label="label")).examples[:train_rows]
    keras.utils.set_random_seed(0)
    model = build_text_classifier("all-minilm-l6-v2", ["0", "1"], sequence_length=128, pooling="mean")
    data = model.make_dataset(train, batch_size=batch_size, training=True, seed=0)
    model.compile(optimizer=adamw_with_warmup(learning_rate, total_steps=len(data) * epochs))
    start = time.perf_counter()
    model.fit(data, epochs=epochs, verbose=2)
    print(f"SST-2 classifier: trained on {len(train)} rows x {epochs} epochs in {time.perf_counter() - start:.0f} s")
    model.save_to_dir(directory)
    return model
