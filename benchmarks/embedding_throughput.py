"""Embedding throughput on the same sentences: tfllm's exported SavedModel and tfllm in-process against
KerasHub's `BertTextEmbedder.encode_text`, all-MiniLM-L6-v2, in interleaved rounds.

    python benchmarks/embedding_throughput.py --sentences 2000

tfllm embeds batches of sentences of similar length, each padded only to its longest (the export is
called the same way: a client sorts its batch by length); KerasHub's preprocessor pads every sentence
to its `sequence_length`. The vectors are checked to agree before anything is timed.
"""

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import by_length, sst2_path  # noqa: E402
from tfllm.backbones import embedded_default_path  # noqa: E402
from tfllm.data.readers import ColumnSpec, read_text_examples  # noqa: E402
from tfllm.export.saved_model_export import export_for_serving  # noqa: E402
from tfllm.models.text_embedder import build_text_embedder  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sentences", type=int, default=2000, help="SST-2 train sentences")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--keras-hub-length", type=int, default=256, help="KerasHub's preprocessor default")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    texts = [e.text for e in read_text_examples(sst2_path("train"), ColumnSpec(text="sentence", label=None)).examples]
    texts = texts[:args.sentences]
    embedder = build_text_embedder("all-minilm-l6-v2", sequence_length=128)
    directory = embedded_default_path()
    keras_hub_embedder = keras_hub.models.BertTextEmbedder(
        keras_hub.models.BertBackbone.from_preset(directory),
        keras_hub.models.BertTextEmbedderPreprocessor(keras_hub.models.BertTokenizer.from_preset(directory),
                                                      sequence_length=args.keras_hub_length))
    with tempfile.TemporaryDirectory() as root:
        path, _ = export_for_serving(embedder.server(), root, "embedder", 1, {"task": "text_embedding"})
        exported = tf.saved_model.load(path).signatures["serving_default"]
        sides = {
            "tfllm export": lambda: np.array(by_length(
                texts, args.batch_size, lambda batch: exported(text=tf.constant(batch))["embeddings"].numpy())),
            "tfllm in-process": lambda: embedder.embed(texts, args.batch_size),
            f"KerasHub encode_text (length {args.keras_hub_length})":
                lambda: np.asarray(keras_hub_embedder.encode_text(texts, batch_size=args.batch_size, verbose=0)),
        }
        outputs = {name: run() for name, run in sides.items()}  # warm up (tracing) and check agreement
        lengths = [len(ids) for ids in embedder.preprocessor.pack(tf.constant(texts))[0].to_list()]
        ascii_rows = [i for i, text in enumerate(texts) if text.isascii()]  # KerasHub does not strip accents
        reference = outputs["tfllm in-process"]
        for name, vectors in outputs.items():
            gap = np.abs(vectors[ascii_rows] - reference[ascii_rows]).max()
            print(f"{name}: largest difference from tfllm in-process {gap:.2e} over {len(ascii_rows)} ASCII sentences")
        seconds = {name: [] for name in sides}
        for _ in range(args.rounds):
            for name, run in sides.items():
                start = time.perf_counter()
                run()
                seconds[name].append(time.perf_counter() - start)
    print(f"{len(texts)} SST-2 sentences, {statistics.mean(lengths):.1f} word pieces on average "
          f"(max {max(lengths)}), batch {args.batch_size}, median of {args.rounds} interleaved rounds:")
    anchor = statistics.median(seconds[list(sides)[-1]])
    for name, times in seconds.items():
        median = statistics.median(times)
        print(f"  {name}: {len(texts) / median:.1f} sentences/s ({anchor / median:.2f}x KerasHub)")


if __name__ == "__main__":
    main()
