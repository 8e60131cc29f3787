"""Token classification (named entities) on a BERT backbone: one BIO/BIOES tag per word."""

import logging

import keras
import numpy as np
import tensorflow as tf

from tfllm.data.entity_readers import Entity, EntityExample
from tfllm.backbones.sources import load_bert, set_pooler_trainable
from tfllm.data.pipeline import batch_packed_inputs
from tfllm.models.bert_task import BertTaskModel
from tfllm.models.raw_text import RawTextModel, single_texts
from tfllm.models.entity_tags import EntityTags
from tfllm.models.text_classifier import FEATURE_NAMES
from tfllm.models.task_server import cached_server
from tfllm.models.token_classifier_serving import TokenClassifierServer
from tfllm.text.word_pieces import WordSplitter
from tfllm.training.optimizer import adamw


class TokenClassifier(BertTaskModel, RawTextModel, keras.Model):
    """A backbone, dropout and a dense layer of tag logits per word piece, with its tag set.

    Words are BERT's (split at whitespace and punctuation, one per CJK character) and keep their
    offsets in the raw text. A word's tag is predicted at its first piece; the other pieces carry no
    label and no loss. Entities are spans of words, so they come back as offsets into the input. Words
    past `sequence_length` pieces are cut off and get no tag.

    Args:
        bert: a `Bert` from `tfllm.backbones.load_bert`.
        entity_types: the entity type names.
        scheme: the tagging scheme, "bio" or "bioes".
        dropout: dropout before the logits.

    Example (not run by the test command: it trains a model):
    >>> tagger = TokenClassifier(load_bert("all-minilm-l6-v2"), ["LOC", "ORG", "PER"])  # doctest: +SKIP
    >>> train = tagger.make_dataset(read_conll("train.txt").examples, training=True)  # doctest: +SKIP
    >>> tagger.compile(optimizer=adamw_with_warmup(5e-5, total_steps=3 * len(train)))  # doctest: +SKIP
    >>> tagger.fit(train, epochs=3)  # doctest: +SKIP
    """

    targets = "entities"

    def __init__(self, bert, entity_types, scheme="bio", dropout=0.1, **kwargs):
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in FEATURE_NAMES}
        sequence = bert.backbone(inputs)["sequence_output"]
        set_pooler_trainable(bert.backbone, False)
        sequence = keras.layers.Dropout(dropout, name="tagger_dropout")(sequence)
        tags = EntityTags(entity_types, scheme)
        # float32 logits keep the loss stable under mixed precision.
        logits = keras.layers.Dense(len(tags), name="tag_logits", dtype="float32")(sequence)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = bert.backbone
        self.preprocessor = bert.preprocessor
        self.word_splitter = WordSplitter(bert.preprocessor.tokenizer)
        self.tags, self.dropout = tags, dropout

    def compile(self, optimizer="auto", loss="auto", weighted_metrics="auto", **kwargs):
        """Compiles with per-word cross-entropy, tag accuracy (on first pieces only) and `adamw()` unless given
        others."""
        if optimizer == "auto":
            optimizer = adamw()
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if weighted_metrics == "auto":
            weighted_metrics = [keras.metrics.SparseCategoricalAccuracy(name="tag_accuracy")]
        super().compile(optimizer=optimizer, loss=loss, weighted_metrics=weighted_metrics, **kwargs)

    def examples(self, x, y=None):
        """`EntityExample`s of raw texts `x` and, if given, `y` their entities: per text a list of (start,
        end, type) character spans (end exclusive), or of dicts with those keys."""
        texts = single_texts(x)
        spans = [[]] * len(texts) if y is None else list(y)
        if len(spans) != len(texts):
            raise ValueError(f"{len(texts)} texts and {len(spans)} entity lists: give one list per text")
        as_entity = lambda span: Entity(span["start"], span["end"], span["type"]) if isinstance(span, dict) \
            else Entity(*span)  # noqa: E731
        examples = []
        for i, (text, entities) in enumerate(zip(texts, spans)):
            entities = sorted((as_entity(span) for span in entities), key=lambda e: e.start)
            for e in entities:
                if not 0 <= e.start < e.end <= len(text):
                    raise ValueError(f"y:{i}: entity {(e.start, e.end, e.type)} is not a span of its text's "
                                     f"{len(text)} characters (0 <= start < end <= len(text), end exclusive)")
            examples.append(EntityExample(text, tuple(entities), f"y:{i}"))
        return examples

    def server(self):
        """The serving module: raw strings in, entities with offsets out (see `TokenClassifierServer`)."""
        return cached_server(self, lambda: TokenClassifierServer(self))

    def encode(self, texts):
        """Splits and packs raw strings, in TF ops (the training pipeline and the serving graph share it).

        Returns ragged [batch, (tokens)] `token_ids` and `segment_ids`, and ragged [batch, (words)]
        `first_pieces` (each word's first piece's position), `tagged` (the word has a piece within
        `sequence_length`), `starts` and `ends` (the word's byte offsets in the text).
        """
        pieces, starts, ends = self.word_splitter(texts)
        token_ids, segment_ids = self.preprocessor.packer([pieces.merge_dims(-2, -1)])
        piece_counts = tf.cast(pieces.row_lengths(axis=2), tf.int32)
        first_pieces = 1 + tf.cumsum(piece_counts, axis=1, exclusive=True)  # after [CLS]
        kept = tf.expand_dims(tf.cast(token_ids.row_lengths(), tf.int32) - 1, 1)  # before the final [SEP]
        tagged = (piece_counts > 0) & (first_pieces < kept)
        return {"token_ids": token_ids, "segment_ids": segment_ids, "first_pieces": first_pieces, "tagged": tagged,
                "starts": starts, "ends": ends}

    def word_tags(self, examples, encoded):
        """Gold tag ids [n, (words)] of `examples` from their entity spans, and how many entity words got cut off."""
        tag_rows, cut = [], 0
        for example, starts, ends, tagged in zip(examples, encoded["starts"].to_list(), encoded["ends"].to_list(),
                                                 encoded["tagged"].to_list()):
            byte_at = np.cumsum([0] + [len(c.encode("utf-8")) for c in example.text])
            spans = [(byte_at[e.start], byte_at[e.end], e.type) for e in example.entities]
            tags = self.tags.word_tags(list(zip(starts, ends)), spans)
            cut += sum(1 for tag, kept in zip(tags, tagged) if tag and not kept)
            tag_rows.append(tags)
        return tf.ragged.constant(tag_rows, tf.int32, ragged_rank=1, inner_shape=()), cut

    def make_dataset(self, examples, batch_size=32, training=False, fixed_length=False, seed=None):
        """A dataset of (features, per-piece tags, weights) for `examples` (`EntityExample`s).

        Unknown entity types are a ValueError naming the example. Words past `sequence_length` cannot
        be learned; how many entity words that drops is logged.
        """
        known = set(self.tags.types)
        for example in examples:
            strangers = sorted({e.type for e in example.entities} - known)
            if strangers:
                raise ValueError(f"{example.source}: unknown entity type(s) {strangers}; known: {self.tags.types}")
        encoded = self.encode(tf.constant([e.text for e in examples], tf.string))
        tags, cut = self.word_tags(examples, encoded)
        if cut:
            logging.warning("%d entity words lie past sequence_length %d and are not learned",
                            cut, self.preprocessor.sequence_length)
        token_ids = encoded["token_ids"]
        first_pieces = encoded["first_pieces"]
        rows = tf.cast(first_pieces.value_rowids(), tf.int32)
        positions = tf.stack([rows, first_pieces.flat_values], axis=1)
        keep = encoded["tagged"].flat_values
        labels = tf.tensor_scatter_nd_update(
            tf.fill(tf.cast(token_ids.bounding_shape(), tf.int32), -1),
            tf.boolean_mask(positions, keep), tf.boolean_mask(tags.flat_values, keep))
        labels = tf.RaggedTensor.from_tensor(labels, lengths=token_ids.row_lengths())
        return batch_packed_inputs(token_ids, encoded["segment_ids"], labels, self.preprocessor, batch_size,
                                   shuffle=training, fixed_length=fixed_length,
                                   drop_remainder=fixed_length and training, seed=seed)

    def head_config(self):
        return {"entity_types": self.tags.types, "scheme": self.tags.scheme, "dropout": self.dropout}


def build_token_classifier(source, entity_types, sequence_length=128, preprocess=None, native=True, **kwargs):
    """`load_bert(source, ...)` and a `TokenClassifier` on it, in one call."""
    bert = load_bert(source, sequence_length=sequence_length, preprocess=preprocess, native=native,
                     dropout=kwargs.get("dropout", 0.1))
    return TokenClassifier(bert, entity_types, **kwargs)
