"""Fine-tunes the embedded default (all-MiniLM-L6-v2) for CoNLL-2003 NER; reports test entity F1 and serving latency.

    python benchmarks/conll_ner.py --epochs 2

Entity F1 is strict (type and span must match), micro-averaged over PER, LOC, ORG and MISC, computed
from the entities the serving graph returns. Latency: one sentence per request, through the exported
SavedModel loaded back with `tf.saved_model.load`, against the same graph in-process.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import median_request_milliseconds, shared_path  # noqa: E402
from tfllm import (TokenClassifierServer, adamw_with_warmup, build_token_classifier, export_for_serving,  # noqa: E402
                   read_entity_examples)
from tfllm.evaluation.classification_report import format_report  # noqa: E402
from tfllm.evaluation.entity_metrics import entity_report  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-sentences", type=int, default=None, help="default: all 14041")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--latency-requests", type=int, default=200)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    train = read_entity_examples(shared_path("conll2003", "train.txt")).examples[:args.train_sentences]
    test = read_entity_examples(shared_path("conll2003", "test.txt")).examples
    types = sorted({e.type for example in train for e in example.entities})
    tagger = build_token_classifier("all-minilm-l6-v2", types, sequence_length=128)
    data = tagger.make_dataset(train, batch_size=args.batch_size, training=True, seed=0)
    tagger.compile(optimizer=adamw_with_warmup(args.learning_rate, total_steps=len(data) * args.epochs))
    start = time.perf_counter()
    tagger.fit(data, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start

    rows = TokenClassifierServer(tagger).answer(test)
    report = entity_report([[(e.start, e.end, e.type) for e in example.entities] for example in test],
                           [[(p["start"], p["end"], p["type"]) for p in row["entities"]] for row in rows], types)
    print(f"CoNLL-2003: trained on {len(train)} sentences x {args.epochs} epochs in {seconds:.0f} s "
          f"({len(train) * args.epochs / seconds:.1f} sentences/s)")
    print(f"CoNLL-2003 test ({len(test)} sentences), strict entity scores:")
    print(format_report(report))

    server = TokenClassifierServer(tagger)
    requests = [(tf.constant([e.text]),) for e in test[:args.latency_requests]]
    with tempfile.TemporaryDirectory() as root:
        path, _ = export_for_serving(server, root, "conll_ner", 1, {"task": "token_classification"})
        exported = tf.saved_model.load(path).signatures["serving_default"]
        in_process = median_request_milliseconds(server.serve, requests)
        from_export = median_request_milliseconds(lambda text: exported(text=text), requests)
    print(f"latency per request (1 sentence, median of {len(requests)}): in-process {in_process:.1f} ms, "
          f"exported SavedModel {from_export:.1f} ms ({from_export / in_process:.2f}x)")


if __name__ == "__main__":
    main()
