"""SQuAD v1.1 dev question -> paragraph retrieval: all-MiniLM-L6-v2 zero-shot, after contrastive
fine-tuning on other articles, and BM25, on the same held-out questions and paragraphs.

    python benchmarks/embedding_retrieval.py --train-articles 24 --epochs 1

No SQuAD train set is available offline, so the dev set is split by article: the first
`--train-articles` articles' (question, paragraph) pairs train (in-batch negatives), and every
question of the other articles is looked up among all of their paragraphs.
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402

from common import shared_path  # noqa: E402
from tfllm.data.pair_readers import pairs_from_squad  # noqa: E402
from tfllm.data.squad_reader import read_squad  # noqa: E402
from tfllm.evaluation.retrieval_metrics import bm25_ranking, rank_corpus, ranking_scores  # noqa: E402
from tfllm.models.text_embedder import build_text_embedder  # noqa: E402
from tfllm.training.optimizer import adamw_with_warmup  # noqa: E402

METRICS = ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10", "ndcg_at_10")


def dense_scores(embedder, queries, corpus, relevant):
    return ranking_scores(rank_corpus(embedder.embed(queries), embedder.embed(corpus)), relevant)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-articles", type=int, default=24, help="of SQuAD dev's 48")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    parser.add_argument("--sequence-length", type=int, default=256)
    args = parser.parse_args()
    keras.utils.set_random_seed(0)
    path = shared_path("squad", "dev-v1.1.json")
    titles = [example.title for example in read_squad(path, labeled=False).examples]
    pairs = pairs_from_squad(path).examples
    train_titles = set(list(dict.fromkeys(titles))[:args.train_articles])
    train = [pair for pair, title in zip(pairs, titles) if title in train_titles]
    held_out = [pair for pair, title in zip(pairs, titles) if title not in train_titles]
    queries = [pair.query for pair in held_out]
    corpus = list(dict.fromkeys(pair.positive for pair in held_out))
    position = {text: i for i, text in enumerate(corpus)}
    relevant = [{position[pair.positive]} for pair in held_out]
    print(f"held out: {len(queries)} questions over {len(corpus)} paragraphs of "
          f"{len(set(titles)) - len(train_titles)} articles; "
          f"training: {len(train)} pairs of {len(train_titles)} articles")

    results = {"BM25 (rank-bm25)": ranking_scores(bm25_ranking(queries, corpus), relevant)}
    embedder = build_text_embedder("all-minilm-l6-v2", sequence_length=args.sequence_length)
    results["all-MiniLM-L6-v2 zero-shot"] = dense_scores(embedder, queries, corpus, relevant)
    data = embedder.make_dataset(train, batch_size=args.batch_size, training=True, seed=0)
    embedder.compile(optimizer=adamw_with_warmup(args.learning_rate, total_steps=len(data) * args.epochs))
    start = time.perf_counter()
    embedder.fit(data, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start
    results[f"fine-tuned ({args.epochs} epoch(s), {seconds:.0f} s)"] = dense_scores(embedder, queries, corpus,
                                                                                   relevant)

    width = max(len(name) for name in results)
    print(f"\n{'':{width}}  " + "  ".join(f"{metric:>12}" for metric in METRICS))
    for name, scores in results.items():
        print(f"{name:{width}}  " + "  ".join(f"{scores[metric]:12.4f}" for metric in METRICS))
    bm25 = results["BM25 (rank-bm25)"]
    for name, scores in list(results.items())[1:]:
        print(f"{name} vs BM25: " + ", ".join(f"{metric} {scores[metric] - bm25[metric]:+.4f}" for metric in METRICS))


if __name__ == "__main__":
    main()
