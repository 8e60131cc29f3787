"""Latency of the exported `search` signature (query text in, k best passages out) at corpora of 10k and
100k passages, against the same export's `serving_default` (embedding alone), all-MiniLM-L6-v2.

    python benchmarks/embedding_search_latency.py

The 10k corpus is SST-2 train sentences, embedded here; the 100k one repeats those vectors and texts ten
times (the search does the same work on any vectors of that size: a [1, 384] x [384, n] product and a
top-k). One query per request, median and 95th percentile over the requests, the export loaded back
in this process.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import sst2_path  # noqa: E402
from tfllm.data.readers import ColumnSpec, read_text_examples  # noqa: E402
from tfllm.export.saved_model_export import export_for_serving  # noqa: E402
from tfllm.models.text_embedder import build_text_embedder  # noqa: E402


def milliseconds(call, queries):
    """(median, 95th percentile) wall time in ms of `call(query)`, after one untimed call."""
    call(queries[0])
    times = []
    for query in queries:
        start = time.perf_counter()
        call(query)
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times), float(np.percentile(times, 95))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args()
    rows = read_text_examples(sst2_path("train"), ColumnSpec(text="sentence", label=None)).examples
    sentences = [e.text for e in rows]
    passages, queries = sentences[:args.passages], sentences[-args.requests:]
    embedder = build_text_embedder("all-minilm-l6-v2", sequence_length=128)
    start = time.perf_counter()
    vectors = embedder.embed(passages, batch_size=128)
    print(f"embedded {len(passages)} passages in {time.perf_counter() - start:.0f} s")
    with tempfile.TemporaryDirectory() as root:
        for copies in (1, 10):
            corpus = passages * copies
            server = embedder.server(corpus, [f"{c}-{i}" for c in range(copies) for i in range(len(passages))],
                                     vectors=np.tile(vectors, (copies, 1)))
            path, _ = export_for_serving(server, root, f"search{copies}", 1, {"task": "text_embedding"})
            size = sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files)
            loaded = tf.saved_model.load(path)
            search, embed = loaded.signatures["search"], loaded.signatures["serving_default"]
            k = tf.constant(args.k)
            found = milliseconds(lambda q: search(query=tf.constant([q]), k=k), queries)
            embedded = milliseconds(lambda q: embed(text=tf.constant([q])), queries)
            print(f"{len(corpus)} passages (SavedModel {size / 2**20:.0f} MiB): "
                  f"search top-{args.k} p50 {found[0]:.1f} ms, "
                  f"p95 {found[1]:.1f} ms; embedding alone p50 {embedded[0]:.1f} ms: the index adds "
                  f"{found[0] - embedded[0]:.1f} ms")


if __name__ == "__main__":
    main()
