"""Sentence embeddings on a BERT backbone: pooled, optionally projected, L2-normalised vectors."""

import math
import zlib

import keras
import numpy as np
import tensorflow as tf

from tfllm.backbones.sources import load_bert, set_pooler_trainable
from tfllm.data.examples import TextExample
from tfllm.data.pair_readers import TextPair
from tfllm.data.pipeline import batch_packed_sides
from tfllm.layers.masked_mean_pooling import MaskedMeanPooling
from tfllm.models.bert_task import BertTaskModel
from tfllm.models.contrastive_loss import cosine_regression_loss, in_batch_negatives_loss
from tfllm.models.raw_text import RawTextModel, batch_of, single_texts
from tfllm.models.task_server import cached_server
from tfllm.models.text_classifier import FEATURE_NAMES
from tfllm.models.text_embedder_serving import TextEmbedderServer
from tfllm.training.optimizer import adamw

LOSSES = ("in_batch_negatives", "cosine")
_MAX_SCALE = 100.0  # a learned temperature stays above 0.01, as CLIP bounds it


class TextEmbedder(BertTaskModel, RawTextModel, keras.Model):
    """A text -> vector model: a backbone, mean or [CLS] pooling, an optional dense projection and L2
    normalisation (with mean pooling and all-MiniLM-L6-v2, the vectors of sentence-transformers and
    KerasHub's `BertTextEmbedder`).

    Called on one text's features it returns the vectors [batch, dim] (float32); called on a dict of
    sides ("query", "positive" and optionally "negative") it returns a vector per side, which is what
    training feeds it. Its loss is set at construction:
      - "in_batch_negatives": each query against its positive, every other positive of the batch (the
        global batch under a multi-replica strategy) and the hard negatives (InfoNCE, the multiple-
        negatives ranking loss of sentence-transformers), at `temperature`, learned if asked;
      - "cosine": the cosine of each scored pair against its score (STS-style data).

    Args:
        bert: a `Bert` from `tfllm.backbones.load_bert`.
        pooling: "mean" (over real tokens) or "cls" (the [CLS] token's vector).
        projection: the width of a dense layer after pooling, or None.
        normalize: L2-normalise the vectors (then cosine similarity is their dot product).
        loss: "in_batch_negatives" or "cosine".
        temperature: divides the similarities in the in-batch loss (0.05 = a scale of 20).
        learn_temperature: train the temperature with the model.
        symmetric: also rank the queries for each positive, and average both directions.
        dropout: dropout on the pooled vector before the projection (only with a projection).

    Example (skipped by the test command: all-MiniLM-L6-v2 takes seconds to load):
    >>> embedder = build_text_embedder("all-minilm-l6-v2")  # doctest: +SKIP
    >>> vectors = embedder.embed(["A man is playing a guitar.", "Someone plays music."])  # doctest: +SKIP
    >>> float(vectors[0] @ vectors[1]) > 0.5  # doctest: +SKIP
    True
    """

    def __init__(self, bert, pooling="mean", projection=None, normalize=True, loss="in_batch_negatives",
                 temperature=0.05, learn_temperature=False, symmetric=False, dropout=0.1, **kwargs):
        if loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}")
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in FEATURE_NAMES}
        sequence = bert.backbone(inputs)["sequence_output"]
        set_pooler_trainable(bert.backbone, False)  # no gradient reaches the [CLS] pooler
        if pooling == "mean":
            vectors = MaskedMeanPooling(name="mean_pooling")(sequence, inputs["padding_mask"])
        elif pooling == "cls":
            vectors = keras.layers.Lambda(lambda x: x[:, 0], name="cls_pooling")(sequence)
        else:
            raise ValueError(f"pooling must be 'mean' or 'cls', not {pooling!r}")
        vectors = keras.layers.Activation("linear", dtype="float32", name="float32_vectors")(vectors)
        if projection:
            vectors = keras.layers.Dropout(dropout, name="projection_dropout")(vectors)
            vectors = keras.layers.Dense(projection, name="projection", dtype="float32")(vectors)
        if normalize:
            vectors = keras.layers.UnitNormalization(axis=-1, name="l2_normalize", dtype="float32")(vectors)
        super().__init__(**kwargs)
        self.encoder = keras.Model(inputs, vectors, name="encoder")
        self.backbone = bert.backbone
        self.preprocessor = bert.preprocessor
        self.pooling, self.projection, self.normalize, self.dropout = pooling, projection, normalize, dropout
        self.loss_name, self.temperature, self.symmetric = loss, temperature, symmetric
        self.learn_temperature = learn_temperature
        self.log_scale = self.add_weight(shape=(), initializer=keras.initializers.Constant(math.log(1 / temperature)),
                                         trainable=learn_temperature, name="log_scale", dtype="float32")
        self.built = True  # every weight exists now (the encoder is built): weights load without a first call

    @property
    def dimension(self):
        return self.encoder.output.shape[-1]

    def call(self, inputs, training=False):
        if "token_ids" in inputs:
            return self.encoder(inputs, training=training)
        return {side: self.encoder(features, training=training) for side, features in inputs.items()}

    def scale(self):
        """1 / temperature (bounded at 100 when learned)."""
        return tf.exp(tf.minimum(self.log_scale, math.log(_MAX_SCALE)))

    def compile(self, optimizer="auto", **kwargs):
        """Compiles with `adamw()` unless given another optimizer; the loss is the model's own."""
        super().compile(optimizer=adamw() if optimizer == "auto" else optimizer, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self.loss_name == "cosine":
            loss = cosine_regression_loss(y_pred["query"], y_pred["positive"], y)
        else:
            loss = in_batch_negatives_loss(y_pred["query"], y_pred["positive"], y_pred.get("negative"),
                                           self.scale(), self.symmetric, positive_ids=y)
        return loss + sum(self.losses) if self.losses else loss

    def examples(self, x, y=None):
        """Examples of raw inputs: texts (to embed), or (queries, positives[, negatives]) with `y` the
        pairs' scores for a cosine-loss model."""
        if not (isinstance(x, tuple) and not isinstance(x[0], (str, bytes))):
            texts = single_texts(x, "texts to embed; (queries, positives) pairs, a tuple, are for fit and evaluate")
            return [TextExample(text, source=f"x:{i}") for i, text in enumerate(texts)]
        columns = [list(side) for side in x]
        if len(columns) not in (2, 3) or len({len(c) for c in columns}) != 1:
            raise ValueError("give x=(queries, positives) or (queries, positives, negatives), lists of one length")
        if (self.loss_name == "cosine") != (y is not None):
            raise ValueError("a cosine-loss model trains on scored pairs: give y, a score per pair" if y is None else
                             "y (scores) is for cosine-loss models; in-batch negatives need only the pairs")
        scores = [None] * len(columns[0]) if y is None else [float(score) for score in y]
        negatives = columns[2] if len(columns) == 3 else [None] * len(columns[0])
        return [TextPair(q, p, n, s, f"x:{i}") for i, (q, p, n, s) in enumerate(zip(columns[0], columns[1], negatives,
                                                                                      scores))]

    def make_dataset(self, examples, batch_size=32, training=False, fixed_length=False, seed=None):
        """Batches of `TextPair`s as ({"query", "positive"[, "negative"]} features, targets), by length
        buckets of a pair's longest text; the targets are the pairs' scores (cosine loss) or ids of their
        positive texts (so that a positive shared by several queries is no negative to them). Texts to
        embed go through `embed`."""
        if not all(isinstance(example, TextPair) for example in examples):
            raise ValueError("make_dataset takes TextPairs (training pairs); embed texts with embed(texts)")
        sides = {"query": [e.query for e in examples], "positive": [e.positive for e in examples]}
        with_negatives = [e.negative is not None for e in examples]
        if any(with_negatives):
            if not all(with_negatives):
                missing = next(e for e in examples if e.negative is None)
                raise ValueError(f"{missing.source}: a pair without a negative among triplets; give every pair one")
            sides["negative"] = [e.negative for e in examples]
        if self.loss_name == "cosine":
            unscored = [e.source for e in examples if e.score is None]
            if unscored:
                raise ValueError(f"{unscored[0]}: no score; a cosine-loss model trains on scored pairs")
            targets = np.array([e.score for e in examples], np.float32)
        else:
            if training and batch_size < 2 and "negative" not in sides:
                raise ValueError(f"batch_size {batch_size}: in-batch negatives need 2 or more pairs per batch (with "
                                 "one, a query's only candidate is its own positive, and nothing is learned); "
                                 "give every pair a negative to train on one")
            targets = np.array([zlib.crc32(e.positive.encode("utf-8")) for e in examples], np.int64)
        packed = {side: self.preprocessor.pack(tf.constant(texts)) for side, texts in sides.items()}
        return batch_packed_sides(packed, targets, self.preprocessor, batch_size, shuffle=training,
                                  fixed_length=fixed_length, drop_remainder=fixed_length and training, seed=seed)

    def embed(self, texts, batch_size=64):
        """The vectors of `texts` [n, dim] (numpy, float32), in their order, through the served graph; of
        one string, its vector [dim]."""
        texts, one = batch_of(texts)
        vectors = self.server().embed(texts, batch_size)
        return vectors[0] if one else vectors

    def server(self, corpus=None, corpus_ids=None, batch_size=64, vectors=None):
        """The serving module: `embed` (texts -> vectors) and, with a `corpus` (texts, and `corpus_ids`,
        default their positions; `vectors` if computed before), `search` (see `TextEmbedderServer`).
        The one without a corpus is made (and traced) once per model (see `cached_server`)."""
        if corpus is not None:
            return TextEmbedderServer(self, corpus, corpus_ids, batch_size, vectors)
        return cached_server(self, lambda: TextEmbedderServer(self))

    def head_config(self):
        return {"pooling": self.pooling, "projection": self.projection, "normalize": self.normalize,
                "loss": self.loss_name, "temperature": self.temperature,
                "learn_temperature": self.learn_temperature, "symmetric": self.symmetric, "dropout": self.dropout}


def build_text_embedder(source="all-minilm-l6-v2", sequence_length=128, preprocess=None, native=True, **kwargs):
    """`load_bert(source, ...)` and a `TextEmbedder` on it, in one call."""
    bert = load_bert(source, sequence_length=sequence_length, preprocess=preprocess, native=native,
                     dropout=kwargs.get("dropout", 0.1))
    return TextEmbedder(bert, **kwargs)
