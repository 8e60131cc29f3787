"""The serving module of a `TextEmbedder`: raw strings in, vectors out; and search over a corpus held in
the SavedModel."""

import numpy as np
import tensorflow as tf

from tfllm.models.raw_text import batch_of
from tfllm.models.task_server import TaskServer, signature_function


class TextEmbedderServer(TaskServer):
    """Preprocessor, model and, with a corpus, its index in one graph, for TF Serving.

    Signatures:
      - `embed`, also the `serving_default`: `text` [batch] string -> `embeddings` [batch, dim] float32 (unit length
        for normalised models), inputs padded only to the longest in the batch;
      - `search` (with a corpus): `query` [batch] string and `k` scalar int32 (1 or more; more than the
        corpus is cut to its size) -> `ids` [batch, k] string, `texts` [batch, k] string and `scores`
        [batch, k] float32 (dot products, cosine for normalised models), best first. The corpus vectors
        are a variable of the SavedModel, searched exactly (a matrix product and top-k).

    Args:
        embedder: a `TextEmbedder`.
        corpus: texts to search, or None.
        corpus_ids: their ids (strings), default their positions "0", "1", ...
        batch_size: texts per call when embedding the corpus.
        vectors: the corpus's vectors [n, dim] when they were computed before (`tfllm embed` writes them),
            else they are computed here.
    """

    def __init__(self, embedder, corpus=None, corpus_ids=None, batch_size=64, vectors=None, name=None):
        super().__init__(embedder, name=name)
        self.preprocessor = embedder.preprocessor
        self.corpus_size = 0
        if corpus is None:
            return
        corpus = list(corpus)
        corpus_ids = [str(i) for i in range(len(corpus))] if corpus_ids is None else [str(i) for i in corpus_ids]
        if not corpus or len(corpus_ids) != len(corpus):
            raise ValueError(f"a search corpus needs texts and one id per text: {len(corpus)} texts, "
                             f"{len(corpus_ids)} ids")
        self.corpus_size = len(corpus)
        vectors = self.embed(corpus, batch_size) if vectors is None else np.asarray(vectors, np.float32)
        if vectors.shape != (len(corpus), embedder.dimension):
            raise ValueError(f"corpus vectors of shape {vectors.shape} for {len(corpus)} texts of a "
                             f"{embedder.dimension}-dimensional model")
        self.index = tf.Variable(vectors, trainable=False, name="corpus_vectors")
        self.corpus_texts = tf.Variable(corpus, trainable=False, name="corpus_texts")
        self.corpus_ids = tf.Variable(corpus_ids, trainable=False, name="corpus_ids")
        self.search = signature_function(self._search, [tf.TensorSpec([None], tf.string, name="query"),
                                                        tf.TensorSpec([], tf.int32, name="k")])

    def input_signature(self):
        return [tf.TensorSpec([None], tf.string, name="text")]

    def preprocess(self, text):
        return self.preprocessor(text), None

    def postprocess(self, vectors, context):
        return {"embeddings": vectors}

    def _search(self, query, k):
        check = tf.debugging.assert_greater(k, 0, message="k must be at least 1")
        with tf.control_dependencies([check]):
            k = tf.minimum(k, self.corpus_size)
        vectors = self._serve(query)["embeddings"]
        best = tf.math.top_k(tf.matmul(vectors, self.index, transpose_b=True), k)
        return {"ids": tf.gather(self.corpus_ids, best.indices), "texts": tf.gather(self.corpus_texts, best.indices),
                "scores": best.values}

    def signatures(self):
        signatures = {"serving_default": self.serve, "embed": self.serve}
        if self.corpus_size:
            signatures["search"] = self.search
        return signatures

    def embed(self, texts, batch_size=64, progress=None):
        """The vectors of `texts` [n, dim] in their order, through `serve`, in batches of similar lengths
        (sorted by length, so that little padding is computed); `progress`, a Keras progress bar, is
        advanced by each batch's texts."""
        order = np.argsort([len(text) for text in texts], kind="stable")
        vectors = np.zeros((len(texts), self.model.dimension), np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start:start + batch_size]
            vectors[rows] = self.serve(text=tf.constant([texts[i] for i in rows], tf.string))["embeddings"].numpy()
            if progress:
                progress.add(len(rows))
        return vectors

    def search_texts(self, queries, k=10):
        """The `search` signature's answers as Python: for each query, its `k` best corpus texts as
        `{"id", "text", "score"}` dicts, best first; of one query string, its list.

        Example:
        >>> from tfllm import build_text_embedder
        >>> embedder = build_text_embedder("all-minilm-l6-v2", sequence_length=32)
        >>> index = embedder.server(corpus=["Mars is red.", "Venus is hot."], corpus_ids=["mars", "venus"])
        >>> [hit["id"] for hit in index.search_texts("which planet is red?", k=2)]
        ['mars', 'venus']
        """
        if not self.corpus_size:
            raise ValueError("this server has no corpus to search: make it with model.server(corpus=texts)")
        queries, one = batch_of(queries)
        if not queries:
            return []
        found = self.search(query=tf.constant(queries, tf.string), k=tf.constant(int(k), tf.int32))
        hits = [[{"id": id_.decode("utf-8"), "text": text.decode("utf-8"), "score": float(score)}
                 for id_, text, score in zip(ids, texts, scores)]
                for ids, texts, scores in zip(found["ids"].numpy(), found["texts"].numpy(), found["scores"].numpy())]
        return hits[0] if one else hits

    def requests(self, examples):
        if examples and not hasattr(examples[0], "text"):
            raise ValueError("the embedder embeds texts: predict(texts); (queries, positives) pairs are for fit and "
                             "evaluate")
        return {"text": [example.text for example in examples]}

    def answers(self, examples, outputs):
        """Rows of `text` and `embedding` (a list of floats)."""
        return [{"text": example.text, "embedding": [round(float(v), 6) for v in vector]}
                for example, vector in zip(examples, outputs["embeddings"])]

    def example_requests(self):
        texts = ["A short example.", "", "一个中文的例子。", "x" * 5000]
        requests = {name: {"text": tf.constant(texts)} for name in ("serving_default", "embed")}
        if self.corpus_size:
            requests["search"] = {"query": tf.constant(texts), "k": tf.constant(3)}
        return requests
