"""Fine-tunes the embedded default (all-MiniLM-L6-v2) for extractive QA on part of SQuAD v1.1 dev; reports EM/F1.

    python benchmarks/squad_qa.py --epochs 2

No SQuAD train set is available offline, so the dev set is split by article: the first
`--train-articles` articles train, the rest are held out. XQuAD's 240 paragraphs are all SQuAD dev
paragraphs, so they are left out of training and scored as a zero-shot set (English; Chinese too, which
this English model's vocabulary mostly cannot read). Also prints the latency of one (question, context)
request through the exported SavedModel against the same graph in-process.
"""

import argparse
import os
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import median_request_milliseconds, shared_path  # noqa: E402
from tfllm.data.squad_reader import read_squad  # noqa: E402
from tfllm.evaluation.squad_metrics import squad_scores  # noqa: E402
from tfllm.export.saved_model_export import export_for_serving  # noqa: E402
from tfllm.models.span_extractor import build_span_extractor  # noqa: E402
from tfllm.models.span_extractor_serving import SpanExtractorServer  # noqa: E402
from tfllm.training.optimizer import adamw_with_warmup  # noqa: E402


def scores(reader, examples):
    rows = SpanExtractorServer(reader).answer(examples, reader.predict_batch_size)
    return squad_scores([row["answer"] for row in rows], [[a.text for a in e.answers] for e in examples])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-articles", type=int, default=40, help="of SQuAD dev's 48")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--sequence-length", type=int, default=256)
    parser.add_argument("--latency-requests", type=int, default=100)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    squad = read_squad(shared_path("squad", "dev-v1.1.json")).examples
    xquad_en = read_squad(shared_path("xquad", "xquad.en.json")).examples
    xquad_zh = read_squad(shared_path("xquad", "xquad.zh.json")).examples
    xquad_contexts = {e.context for e in xquad_en}
    titles = list(dict.fromkeys(e.title for e in squad))
    train_titles = set(titles[:args.train_articles])
    fresh = [e for e in squad if e.context not in xquad_contexts]
    train = [e for e in fresh if e.title in train_titles]
    held_out = [e for e in fresh if e.title not in train_titles]

    reader = build_span_extractor("all-minilm-l6-v2", sequence_length=args.sequence_length)
    data = reader.make_dataset(train, batch_size=args.batch_size, training=True, seed=0)
    reader.compile(optimizer=adamw_with_warmup(args.learning_rate, total_steps=len(data) * args.epochs))
    start = time.perf_counter()
    reader.fit(data, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start
    print(f"SQuAD v1.1 dev, {len(train_titles)} articles without XQuAD's paragraphs: {len(train)} questions "
          f"x {args.epochs} epochs in {seconds:.0f} s, sequence length {args.sequence_length}, stride {reader.stride}")
    for name, examples in (("held-out SQuAD dev articles", held_out), ("XQuAD English (zero-shot)", xquad_en),
                           ("XQuAD Chinese (zero-shot)", xquad_zh)):
        result = scores(reader, examples)
        print(f"{name}: exact match {result['exact_match']:.2f}, F1 {result['f1']:.2f} "
              f"({result['examples']} questions)")

    server = SpanExtractorServer(reader)
    requests = [(tf.constant([e.question]), tf.constant([e.context])) for e in held_out[:args.latency_requests]]
    with tempfile.TemporaryDirectory() as root:
        path, _ = export_for_serving(server, root, "squad_qa", 1, {"task": "question_answering"})
        exported = tf.saved_model.load(path).signatures["serving_default"]
        in_process = median_request_milliseconds(server.serve, requests)
        from_export = median_request_milliseconds(lambda q, c: exported(question=q, context=c), requests)
    print(f"latency per request (1 question and its context, median of {len(requests)}): in-process "
          f"{in_process:.1f} ms, exported SavedModel {from_export:.1f} ms ({from_export / in_process:.2f}x)")


if __name__ == "__main__":
    main()
