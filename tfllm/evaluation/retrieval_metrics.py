"""Retrieval and similarity metrics for sentence embeddings, and a BM25 baseline on the same corpus.

Recall@k is the share of queries with a relevant text among their first k; MRR@10 the mean of 1/rank
of the first relevant text (0 past 10); nDCG@10 with binary relevance. Pearson and Spearman compare
predicted similarities with gold scores (Spearman on ranks, ties averaged).
"""

import re

import numpy as np

RANKS = (1, 5, 10)
_WORD = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|\w+")  # CJK characters alone, other scripts by word


def rank_corpus(query_vectors, corpus_vectors, depth=max(RANKS), chunk=1024):
    """The indices of the `depth` corpus vectors of highest dot product with each query, best first:
    an int array [queries, depth]. Works in chunks of queries, so that memory stays queries x corpus / chunks."""
    depth = min(depth, len(corpus_vectors))
    ranked = []
    for start in range(0, len(query_vectors), chunk):
        scores = query_vectors[start:start + chunk] @ corpus_vectors.T
        top = np.argpartition(-scores, depth - 1, axis=1)[:, :depth]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        ranked.append(np.take_along_axis(top, order, axis=1))
    return np.concatenate(ranked)


def ranking_scores(ranked, relevant):
    """recall_at_1/5/10, mrr_at_10 and ndcg_at_10 of `ranked` corpus indices per query ([queries, depth])
    against `relevant`, one set of corpus indices per query.

    Example:
    >>> scores = ranking_scores(np.array([[2, 0, 1], [1, 2, 0]]), [{0}, {1}])
    >>> scores["recall_at_1"], scores["mrr_at_10"]
    (0.5, 0.75)
    """
    hits = np.array([[index in gold for index in row] for row, gold in zip(ranked.tolist(), relevant)], bool)
    hits = hits[:, :max(RANKS)]
    positions = np.arange(1, hits.shape[1] + 1)
    first = np.where(hits.any(axis=1), hits.argmax(axis=1) + 1, 0)
    discounts = 1.0 / np.log2(positions + 1)
    ideal = np.array([discounts[:min(len(gold), hits.shape[1])].sum() for gold in relevant])
    scores = {f"recall_at_{k}": float(hits[:, :k].any(axis=1).mean()) for k in RANKS}
    scores["mrr_at_10"] = float(np.where(first > 0, 1.0 / np.maximum(first, 1), 0.0).mean())
    scores["ndcg_at_10"] = float(((hits * discounts).sum(axis=1) / np.maximum(ideal, 1e-12)).mean())
    return scores


def bm25_ranking(queries, corpus, depth=max(RANKS)):
    """BM25 (Okapi, rank-bm25's defaults) rankings of `corpus` texts for each query: [queries, depth]."""
    from rank_bm25 import BM25Okapi

    index = BM25Okapi([bm25_tokens(text) for text in corpus])
    depth = min(depth, len(corpus))
    ranked = []
    for query in queries:
        scores = index.get_scores(bm25_tokens(query))
        top = np.argpartition(-scores, depth - 1)[:depth]
        ranked.append(top[np.argsort(-scores[top], kind="stable")])
    return np.array(ranked)


def bm25_tokens(text):
    """Lowercased words (CJK characters one by one) of `text`, as BM25 counts them."""
    return _WORD.findall(text.lower()) or [""]


def correlation_scores(predicted, gold):
    """Pearson and Spearman correlations of predicted similarities with gold scores.

    Example:
    >>> correlation_scores([0.1, 0.5, 0.4], [1.0, 5.0, 3.0])["spearman"]
    1.0
    """
    predicted, gold = np.asarray(predicted, np.float64), np.asarray(gold, np.float64)
    return {"pearson": _pearson(predicted, gold), "spearman": _pearson(_ranks(predicted), _ranks(gold))}


def _pearson(a, b):
    a, b = a - a.mean(), b - b.mean()
    denominator = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / denominator) if denominator > 0 else 0.0


def _ranks(values):
    """Ranks from 1, ties given the mean of their ranks."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return ranks
