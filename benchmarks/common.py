"""Shared by the benchmarks: files of ../shared/data, a timing callback and request latency."""

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


class StepTimer(keras.callbacks.Callback):
    """Wall time of the batches after the first `skip` (tracing and warmup excluded)."""

    def __init__(self, skip=3):
        super().__init__()
        self.skip, self.batches, self.seconds = skip, 0, 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches > self.skip:
            self.seconds += time.perf_counter() - self._start

    def per_second(self, batch_size):
        return (self.batches - self.skip) * batch_size / self.seconds


def median_request_milliseconds(call, requests):
    """Median wall time in ms of `call(*request)` over `requests`, after one untimed call (tracing)."""
    call(*requests[0])
    times = []
    for request in requests:
        start = time.perf_counter()
        call(*request)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)
