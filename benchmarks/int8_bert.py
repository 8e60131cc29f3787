"""int8 backbone weights for BERT tasks (`--quantize int8`): size, quality and served speed of the
exported SavedModels against float32, for an SST-2 classifier and the all-MiniLM-L6-v2 embedder.

    python benchmarks/int8_bert.py --articles 8

The classifier is `sst2_accuracy.py`'s recipe (kept in --work-dir, shared with `distillation.py`);
its quality is SST-2 dev accuracy. The embedder is all-MiniLM-L6-v2 as shipped; its quality is
question -> paragraph retrieval over the last --articles articles of SQuAD v1.1 dev (recall@1,
MRR@10) and the cosine between its float and int8 vectors. Every number comes from the exported
SavedModels (what TF Serving runs), timed in interleaved rounds: all SST-2 dev sentences in
batches of --batch-size sorted by length (sentences/s), and one sentence per request (p50).
"""

import argparse
import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import serving_speed, shared_path, sst2_path, trained_sst2_classifier  # noqa: E402
from tfllm import ColumnSpec, TextClassifier, export_for_serving, quantize_backbone, read_text_examples  # noqa: E402
from tfllm.data.pair_readers import pairs_from_squad  # noqa: E402
from tfllm.data.squad_reader import read_squad  # noqa: E402
from tfllm.evaluation.retrieval_metrics import rank_corpus, ranking_scores  # noqa: E402
from tfllm.models.text_embedder import TextEmbedder, build_text_embedder  # noqa: E402


def size_mb(directory):
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(directory)
               for name in names) / 1e6


def retrieval_set(articles):
    """Questions, paragraphs and each question's paragraph, of the last `articles` articles of SQuAD dev."""
    path = shared_path("squad", "dev-v1.1.json")
    titles = [example.title for example in read_squad(path, labeled=False).examples]
    kept = set(list(dict.fromkeys(titles))[-articles:])
    pairs = [pair for pair, title in zip(pairs_from_squad(path).examples, titles) if title in kept]
    corpus = list(dict.fromkeys(pair.positive for pair in pairs))
    position = {text: i for i, text in enumerate(corpus)}
    return [pair.query for pair in pairs], corpus, [{position[pair.positive]} for pair in pairs]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-rows", type=int, default=16000, help="the classifier's SST-2 train rows")
    parser.add_argument("--articles", type=int, default=8, help="SQuAD dev articles to retrieve over")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--latency-requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work-dir", default="runs/distillation_benchmark")
    args = parser.parse_args()
    dev = read_text_examples(sst2_path("dev"), ColumnSpec(text="sentence", label="label")).examples
    texts = [e.text for e in dev]
    queries, corpus, relevant = retrieval_set(args.articles)
    classifier_dir = os.path.join(args.work_dir, f"teacher_{args.train_rows}")
    trained_sst2_classifier(classifier_dir, args.train_rows)
    embedder_dir = os.path.join(args.work_dir, "minilm_embedder")
    if not os.path.exists(os.path.join(embedder_dir, "tfllm.json")):
        build_text_embedder("all-minilm-l6-v2", sequence_length=256).save_to_dir(embedder_dir)
    models = {  # name: a fresh model each time, since quantizing changes it in place
        "classifier float32": lambda: TextClassifier.load(classifier_dir),
        "classifier int8": lambda: quantize_backbone(TextClassifier.load(classifier_dir)),
        "embedder float32": lambda: TextEmbedder.load(embedder_dir),
        "embedder int8": lambda: quantize_backbone(TextEmbedder.load(embedder_dir)),
    }
    with tempfile.TemporaryDirectory() as root:
        served, sizes = {}, {}
        for version, (name, load) in enumerate(models.items(), 1):
            kind = "embeddings" if name.startswith("embedder") else "label_names"
            path, _ = export_for_serving(load().server(), root, "int8", version, {"quantize": name})
            sizes[name] = size_mb(path)
            signature = tf.saved_model.load(path).signatures["serving_default"]
            served[name] = lambda batch, call=signature, kind=kind: call(tf.constant(batch))[kind].numpy()
        quality = {}
        for name, call in served.items():
            answers = lambda items, call=call: np.concatenate([call(items[i:i + 64])  # noqa: E731
                                                               for i in range(0, len(items), 64)])
            if name.startswith("classifier"):
                predicted = answers(texts)
                correct = [label.decode() == example.label for label, example in zip(predicted, dev)]
                quality[name] = {"dev accuracy": float(np.mean(correct))}
            else:
                query_vectors = answers(queries)
                scores = ranking_scores(rank_corpus(query_vectors, answers(corpus)), relevant)
                quality[name] = {"recall@1": scores["recall_at_1"], "MRR@10": scores["mrr_at_10"],
                                 "vectors": query_vectors}
        cosine = np.sum(quality["embedder float32"].pop("vectors") * quality["embedder int8"].pop("vectors"),
                        -1)  # both unit length
        speed = serving_speed(served, texts, args.batch_size, args.latency_requests, args.rounds)

    print(f"\nExported SavedModels, median of {args.rounds} interleaved rounds ({os.cpu_count()} CPU cores); "
          f"SST-2 dev {len(dev)} sentences; retrieval: {len(queries)} SQuAD questions over {len(corpus)} paragraphs")
    print(f"{'model':<20} {'MB':>7} {'quality':<34} {'sentences/s':>12} {'x':>6} {'p50 ms':>7} {'x':>6}")
    for name in models:
        anchor = name.replace("int8", "float32")
        sentences, p50 = speed[name]
        words = ", ".join(f"{key} {value:.4f}" for key, value in quality[name].items())
        print(f"{name:<20} {sizes[name]:>7.1f} {words:<34} {sentences:>12.1f} {sentences / speed[anchor][0]:>6.2f} "
              f"{p50:>7.1f} {speed[anchor][1] / p50:>6.2f}")
    print(f"embedder int8 vs float32 vectors: cosine mean {cosine.mean():.4f}, min {cosine.min():.4f}")


if __name__ == "__main__":
    main()
