"""Extractive question answering on a BERT backbone: answer spans found across sliding context windows."""

import logging

import keras
import numpy as np
import tensorflow as tf

from tfllm.data.squad_reader import Answer, QAExample
from tfllm.backbones.sources import load_bert, set_pooler_trainable
from tfllm.data.pipeline import batch_packed_inputs
from tfllm.models.bert_task import BertTaskModel
from tfllm.models.raw_text import RawTextModel
from tfllm.models.span_extractor_serving import SpanExtractorServer
from tfllm.models.task_server import cached_server
from tfllm.models.text_classifier import FEATURE_NAMES
from tfllm.text.windows import sliding_windows
from tfllm.text.word_pieces import WordSplitter
from tfllm.training.optimizer import adamw

_NEGATIVE = -1e4  # masks logits; finite so that float16 survives it


class SpanLogits(keras.layers.Layer):
    """Start and end logits per token [batch, tokens, 2]; only context tokens and [CLS] may be chosen.

    [CLS] (position 0) is the target of windows that do not hold the answer, as in BERT's SQuAD recipe.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2, name="span_dense", dtype=self.dtype_policy)

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, sequence, segment_ids, padding_mask):
        logits = self.dense(sequence)
        position = keras.ops.arange(keras.ops.shape(segment_ids)[1])[None, :]
        allowed = keras.ops.logical_or(keras.ops.logical_and(segment_ids == 1, padding_mask == 1), position == 0)
        return keras.ops.where(allowed[..., None], logits, _NEGATIVE)


def span_loss(targets, logits):
    """Mean cross-entropy of the start and end positions; `targets` [batch, 2], `logits` [batch, tokens, 2]."""
    logits = keras.ops.transpose(logits, [0, 2, 1])
    return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(targets, logits, from_logits=True), axis=-1)


class SpanExtractor(BertTaskModel, RawTextModel, keras.Model):
    """Finds the answer to a question as a span of a context: BERT with start and end logits per token.

    Each (question, context) pair is packed as [CLS] question [SEP] window [SEP] for every window of
    the context (`sequence_length` tokens in all, windows `stride` pieces apart), so contexts of any
    length are read whole. The answer is the span of whole words, at most `max_answer_length` pieces,
    with the highest start + end logit over all windows; it comes back as text and character offsets
    into the context.

    Args:
        bert: a `Bert` from `tfllm.backbones.load_bert`.
        max_question_length: question pieces kept (the rest is cut).
        stride: context pieces between window starts.
        max_answer_length: the longest answer, in pieces.
        dropout: dropout before the logits.

    Example (not run by the test command: it trains a model):
    >>> reader = SpanExtractor(load_bert("all-minilm-l6-v2", sequence_length=256))  # doctest: +SKIP
    >>> train = reader.make_dataset(read_squad("train.json").examples, training=True)  # doctest: +SKIP
    >>> reader.compile(optimizer=adamw_with_warmup(1e-4, total_steps=2 * len(train)))  # doctest: +SKIP
    >>> reader.fit(train, epochs=2)  # doctest: +SKIP
    """

    targets = "answers"

    def __init__(self, bert, max_question_length=64, stride=128, max_answer_length=30, dropout=0.1, **kwargs):
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in FEATURE_NAMES}
        sequence = bert.backbone(inputs)["sequence_output"]
        set_pooler_trainable(bert.backbone, False)
        sequence = keras.layers.Dropout(dropout, name="span_dropout")(sequence)
        # float32 logits keep the loss stable under mixed precision.
        logits = SpanLogits(name="span_logits", dtype="float32")(sequence, inputs["segment_ids"], inputs["padding_mask"])
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = bert.backbone
        self.preprocessor = bert.preprocessor
        self.word_splitter = WordSplitter(bert.preprocessor.tokenizer)
        if bert.preprocessor.sequence_length < max_question_length + 16:
            raise ValueError(f"sequence_length {bert.preprocessor.sequence_length} leaves too little room for "
                             f"context beside questions of {max_question_length} pieces")
        self.max_question_length, self.stride = max_question_length, stride
        self.max_answer_length, self.dropout = max_answer_length, dropout

    predict_batch_size = 16  # a long context makes many windows

    def compile(self, optimizer="auto", loss="auto", **kwargs):
        """Compiles with the start/end cross-entropy and `adamw()` unless given others."""
        if optimizer == "auto":
            optimizer = adamw()
        super().compile(optimizer=optimizer, loss=span_loss if loss == "auto" else loss, **kwargs)

    def examples(self, x, y=None):
        """`QAExample`s of raw inputs: `x` a (questions, contexts) tuple, `y` the answers, if given: per
        question its text (found in the context) or a dict of `text` and character `start`."""
        if not (isinstance(x, tuple) and len(x) == 2 and not isinstance(x[0], (str, bytes))):
            raise ValueError("a reader takes x=(questions, contexts): one context (--text-pair) per question")
        questions, contexts = list(x[0]), list(x[1])
        answers = [None] * len(questions) if y is None else list(y)
        if len(contexts) != len(questions) or len(answers) != len(questions):
            raise ValueError(f"{len(questions)} questions, {len(contexts)} contexts and {len(answers)} answers: give "
                             "one of each per example")
        examples = []
        for i, (question, context, answer) in enumerate(zip(questions, contexts, answers)):
            if isinstance(answer, str):
                answer = {"text": answer, "start": context.find(answer)}
                if answer["start"] < 0:
                    raise ValueError(f"y:{i}: the answer {answer['text']!r} is not in its context")
            gold = () if answer is None else (Answer(answer["text"], answer["start"]),)
            examples.append(QAExample(question, context, gold, id=str(i), source=f"y:{i}"))
        return examples

    def server(self):
        """The serving module: raw questions and contexts in, answers with offsets out (see
        `SpanExtractorServer`)."""
        return cached_server(self, lambda: SpanExtractorServer(self))

    def encode(self, questions, contexts):
        """Windows and packs (question, context) pairs, in TF ops (the pipeline and the serving graph share it).

        Returns ragged [windows, (tokens)] `token_ids` and `segment_ids`; per window its `example` (row
        of the batch), `window_start` (its first piece's index in the context) and `context_offset`
        (its first piece's position among the tokens); and per context piece, ragged [batch, (pieces)],
        the byte offsets `piece_starts`/`piece_ends` of the word it belongs to.
        """
        question_pieces = self.preprocessor.tokenizer(questions)[:, :self.max_question_length]
        words, starts, ends = self.word_splitter(contexts)
        context_pieces = words.merge_dims(1, 2)
        room = self.preprocessor.sequence_length - 3 - question_pieces.row_lengths()
        windows, examples, window_starts = sliding_windows(context_pieces, room, self.stride)
        token_ids, segment_ids = self.preprocessor.packer([tf.gather(question_pieces, examples), windows])
        piece_words = words.values.value_rowids()  # each piece's word, numbered across the batch
        return {"token_ids": token_ids, "segment_ids": segment_ids, "example": examples, "window_start": window_starts,
                "context_offset": tf.gather(question_pieces.row_lengths(), examples) + 2,
                "piece_starts": context_pieces.with_flat_values(tf.gather(starts.flat_values, piece_words)),
                "piece_ends": context_pieces.with_flat_values(tf.gather(ends.flat_values, piece_words))}

    def span_targets(self, examples, encoded):
        """Start/end token positions [windows, 2] of each window's answer (the first gold answer); [0, 0]
        ([CLS]) where the window does not hold it whole."""
        piece_starts, piece_ends = encoded["piece_starts"].to_list(), encoded["piece_ends"].to_list()
        answer_pieces = []
        for example, starts, ends in zip(examples, piece_starts, piece_ends):
            answer = example.answers[0]
            byte_at = np.cumsum([0] + [len(c.encode("utf-8")) for c in example.context])
            first, last = byte_at[answer.start], byte_at[answer.start + len(answer.text)]
            inside = [i for i, (s, e) in enumerate(zip(starts, ends)) if e > first and s < last]
            answer_pieces.append((inside[0], inside[-1]) if inside else (-1, -1))
        missing = [e.source for e, (first, _) in zip(examples, answer_pieces) if first < 0]
        if missing:
            logging.warning("%d answers cover no word of their context and train only [CLS], e.g. %s",
                            len(missing), missing[0])
        answer_pieces = np.array(answer_pieces, np.int64)[encoded["example"].numpy()]
        window_starts = encoded["window_start"].numpy()
        window_ends = window_starts + encoded["token_ids"].row_lengths().numpy() - encoded["context_offset"].numpy() - 1
        holds = (answer_pieces[:, 0] >= window_starts) & (answer_pieces[:, 1] < window_ends)
        positions = answer_pieces - window_starts[:, None] + encoded["context_offset"].numpy()[:, None]
        return np.where(holds[:, None], positions, 0).astype(np.int32)

    def make_dataset(self, examples, batch_size=32, training=False, fixed_length=False, seed=None):
        """A dataset of (features, start/end targets) over every window of `examples` (`QAExample`s)."""
        encoded = self.encode(tf.constant([e.question for e in examples], tf.string),
                              tf.constant([e.context for e in examples], tf.string))
        targets = self.span_targets(examples, encoded)
        return batch_packed_inputs(encoded["token_ids"], encoded["segment_ids"], targets, self.preprocessor,
                                   batch_size, shuffle=training, fixed_length=fixed_length,
                                   drop_remainder=fixed_length and training, seed=seed)

    def head_config(self):
        return {"max_question_length": self.max_question_length, "stride": self.stride,
                "max_answer_length": self.max_answer_length, "dropout": self.dropout}


def build_span_extractor(source, sequence_length=384, preprocess=None, native=True, **kwargs):
    """`load_bert(source, ...)` and a `SpanExtractor` on it, in one call."""
    bert = load_bert(source, sequence_length=sequence_length, preprocess=preprocess, native=native,
                     dropout=kwargs.get("dropout", 0.1))
    return SpanExtractor(bert, **kwargs)
