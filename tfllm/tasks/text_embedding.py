"""Sentence embeddings: a `TextEmbedder` trained on pairs (in-batch negatives) or scored pairs (cosine),
scored by retrieval against a BM25 baseline or by correlation, and served as `embed` and `search`."""

import dataclasses
import json
import os

import numpy as np

from tfllm import storage
from tfllm.data.examples import TextExample
from tfllm.data.pair_readers import pairs_from_dialogues, pairs_from_squad, read_corpus, read_text_pairs
from tfllm.evaluation.classification_report import write_predictions
from tfllm.evaluation.retrieval_metrics import (bm25_ranking, correlation_scores, rank_corpus, ranking_scores)
from tfllm.models.text_embedder import TextEmbedder
from tfllm.tasks.task import BertTask, data_file, kept_examples
from tfllm.terminal import progress_bar

_RETRIEVAL = ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10", "ndcg_at_10")


class TextEmbeddingTask(BertTask):
    """A `TextEmbedder` on (query, positive[, negative][, score]) `TextPair`s; served as `TextEmbedderServer`.

    Retrieval reports rank, for each query, every distinct positive (and negative) text of the split,
    and give a BM25 baseline on the same queries and corpus; scored pairs report Pearson and Spearman.
    Predictions are rows of `text` and `embedding`.
    """

    model_class = TextEmbedder
    report_keys = _RETRIEVAL + ("spearman", "pearson", "queries", "corpus", "pairs")
    served_monitors = {name: name for name in _RETRIEVAL + ("spearman", "pearson")}

    def read(self, config, path, labeled=True):
        data = config.data
        if data.format == "squad":
            result = pairs_from_squad(path, data.on_bad_rows)
        elif data.format == "dailydialog":
            result = pairs_from_dialogues(path, "dailydialog", data.context_turns, data.on_bad_rows)
        else:
            result = read_text_pairs(path, data.format, data.query_column, data.positive_column, data.negative_column,
                                     data.score_column, data.column_names, data.on_bad_rows)
        pairs = kept_examples(path, result, data.limit)
        if not labeled:  # texts to embed: the queries
            return [TextExample(pair.query, source=pair.source) for pair in pairs]
        if data.score_column:
            pairs = [dataclasses.replace(pair, score=pair.score / data.score_max) for pair in pairs]
        return pairs

    def build(self, config, train_examples):
        model = config.model
        return TextEmbedder(self.bert(config, train_examples), pooling=model.pooling, projection=model.projection,
                            normalize=model.normalize, loss=model.loss, temperature=model.temperature,
                            learn_temperature=model.learn_temperature, symmetric=model.symmetric,
                            dropout=config.training.dropout)

    def texts(self, examples):
        return [text for pair in examples for text in (pair.query, pair.positive, pair.negative) if text]

    def dataset(self, config, model, examples, training):
        return model.make_dataset(examples, batch_size=config.training.batch_size, training=training,
                                  fixed_length=config.training.fixed_length, seed=config.training.seed)

    def export_server(self, config, model):
        """The server with `export.corpus` (if set) as the index of a `search` signature."""
        export = config.export
        if not export.corpus:
            return self.server(config, model)
        corpus = data_file(export.corpus, f"{config.path}: export.corpus: ")
        passages = kept_examples(corpus, read_corpus(corpus, export.corpus_format, export.corpus_text_column,
                                                     export.corpus_id_column, config.data.on_bad_rows))
        print(f"embedding the {len(passages)} passages of export.corpus for the search signature")
        return model.server(corpus=[text for _, text in passages], corpus_ids=[id_ for id_, _ in passages])

    def evaluate(self, config, model, examples, directory, server=None):
        """Correlations for scored pairs; else retrieval metrics of each query among the split's distinct
        positive and negative texts, with BM25's on the same corpus when the report is written."""
        server = server or self.server(config, model)
        cosine = config.model.loss == "cosine"
        # Scored pairs compare each query with its own positive; retrieval ranks the split's distinct texts.
        corpus = [pair.positive for pair in examples] if cosine else list(dict.fromkeys(
            text for pair in examples for text in (pair.positive, pair.negative) if text))
        bar = progress_bar(len(examples) + len(corpus), "text") if directory is not None else None
        queries = server.embed([pair.query for pair in examples], progress=bar)
        vectors = server.embed(corpus, progress=bar)
        if cosine:
            similarity = np.sum(_unit(queries) * _unit(vectors), axis=1)
            write_predictions(({"query": pair.query, "positive": pair.positive, "score": pair.score,
                                "similarity": round(float(s), 4)} for pair, s in zip(examples, similarity)), directory)
            return {**correlation_scores(similarity, [pair.score for pair in examples]), "pairs": len(examples)}
        position = {text: i for i, text in enumerate(corpus)}
        relevant = [{position[pair.positive]} for pair in examples]
        ranked = rank_corpus(queries, vectors)
        report = {**ranking_scores(ranked, relevant), "queries": len(examples), "corpus": len(corpus)}
        if directory is not None:
            bm25 = ranking_scores(bm25_ranking([pair.query for pair in examples], corpus), relevant)
            report["bm25"] = bm25
            report["vs_bm25"] = {name: report[name] - bm25[name] for name in _RETRIEVAL}
            write_predictions(({"query": pair.query, "positive": pair.positive,
                                "rank": next((r + 1 for r, i in enumerate(row) if i == position[pair.positive]), None),
                                "retrieved": [corpus[i] for i in row[:3]]}
                               for pair, row in zip(examples, ranked.tolist())), directory)
        return report

    def summary(self, report):
        if "spearman" in report:
            return (f"{report['data']}: Spearman {report['spearman']:.4f}, Pearson {report['pearson']:.4f} over "
                    f"{report['pairs']} scored pairs")
        line = (f"{report['data']}: MRR@10 {report['mrr_at_10']:.4f}, recall@1/5/10 {report['recall_at_1']:.4f} / "
                f"{report['recall_at_5']:.4f} / {report['recall_at_10']:.4f}, nDCG@10 {report['ndcg_at_10']:.4f}; "
                f"{report['queries']} queries over {report['corpus']} texts")
        if "bm25" in report:
            bm25 = report["bm25"]
            line += (f"\nBM25 on the same corpus: MRR@10 {bm25['mrr_at_10']:.4f} ({report['vs_bm25']['mrr_at_10']:+.4f}"
                     f" dense), recall@1 {bm25['recall_at_1']:.4f} ({report['vs_bm25']['recall_at_1']:+.4f} dense)")
        return line

    def metadata(self, config, model, server):
        return {"dimension": model.dimension, "pooling": model.pooling, "normalize": model.normalize,
                "sequence_length": model.preprocessor.sequence_length, "corpus_size": server.corpus_size}


def _unit(vectors):
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def embed_corpus(config, model, path, output, text_column="text", id_column=None, file_format=None,
                 shard_size=100_000, batch_size=256):
    """Embeds the passages of `path` (see `read_corpus`) into `output`, published whole when done:
    `embeddings-NNNNN.npy` (float32 [n, dim], what `faiss.IndexFlatIP.add` or ScaNN take), beside
    `passages-NNNNN.jsonl` (the id and text of each row, in order), per `shard_size` passages, and
    `manifest.json` (model, dimension, metric, counts). Shows a progress bar; returns the manifest."""
    if storage.exists(output):
        raise ValueError(f"{output} exists; tfllm embed writes a new directory")
    if shard_size < 1:
        raise ValueError(f"shard_size {shard_size}: a shard holds 1 or more passages")
    passages = kept_examples(data_file(path), read_corpus(path, file_format, text_column, id_column,
                                                          config.data.on_bad_rows))
    server = model.server()
    progress = progress_bar(len(passages), "passage")
    shards = []
    with storage.published_directory(output, last="manifest.json") as staging:
        for number, start in enumerate(range(0, len(passages), shard_size)):
            shard = passages[start:start + shard_size]
            vectors = server.embed([text for _, text in shard], batch_size, progress)
            name = f"{number:05d}"
            np.save(os.path.join(staging, f"embeddings-{name}.npy"), vectors)
            with open(os.path.join(staging, f"passages-{name}.jsonl"), "w", encoding="utf-8") as f:
                f.writelines(json.dumps({"id": id_, "text": text}, ensure_ascii=False) + "\n" for id_, text in shard)
            shards.append({"embeddings": f"embeddings-{name}.npy", "passages": f"passages-{name}.jsonl",
                           "count": len(shard)})
        manifest = {"model": config.name, "run_dir": config.run_dir, "source": path, "count": len(passages),
                    "dimension": model.dimension, "normalized": model.normalize,
                    "metric": "inner_product (cosine)" if model.normalize else "inner_product", "shards": shards}
        with open(os.path.join(staging, "manifest.json"), "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2, ensure_ascii=False)
    return manifest

