"""The serving wrapper of a `SpanExtractor`: (question, context) strings in, answer text and offsets out."""

import numpy as np
import tensorflow as tf

from tfllm.models.task_server import TaskServer
from tfllm.text.utf8 import replace_invalid_utf8
from tfllm.text.word_pieces import char_offsets


class SpanExtractorServer(TaskServer):
    """Windowing, tokenization, the model and the best-span search in one graph, for TF Serving.

    Its `serve` function (the `serving_default` signature) takes `question` and `context`, 1-D string
    tensors of the same batch size, and returns per pair:
      - `answer` [batch] string: the answer, a span of whole words of the context;
      - `score` [batch] float32: the start probability times the end probability in its window;
      - `start`, `end` [batch] int32: character offsets into the context (end exclusive), so that
        `context[start:end] == answer` in Python; -1 for a context without words.
    Contexts of any length are read in overlapping windows; questions are cut to the model's
    `max_question_length` pieces.

    Example (not run by the test command: it needs a trained model):
    >>> server = SpanExtractorServer(reader)  # doctest: +SKIP
    >>> server.serve(question=tf.constant(["Who won?"]), context=tf.constant(["Denver beat Carolina."]))["answer"]  # doctest: +SKIP
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'Denver'], dtype=object)>
    """

    def input_signature(self):
        return [tf.TensorSpec([None], tf.string, name="question"), tf.TensorSpec([None], tf.string, name="context")]

    def preprocess(self, question, context):
        tf.debugging.assert_equal(tf.size(question), tf.size(context),
                                  message="question and context need the same batch size")
        context = replace_invalid_utf8(context)
        encoded = self.model.encode(replace_invalid_utf8(question), context)
        return self.model.preprocessor.packer.to_dense(encoded["token_ids"], encoded["segment_ids"]), (context, encoded)

    def postprocess(self, logits, context):
        """The best span: start <= end < start + max_answer_length, of context tokens, in the best window."""
        contexts, encoded = context
        length = tf.shape(logits)[1]
        # Context tokens only: after the question, before the final [SEP].
        position = tf.range(length, dtype=tf.int64)[tf.newaxis, :]
        offset = encoded["context_offset"][:, tf.newaxis]
        in_context = (position >= offset) & (position < encoded["token_ids"].row_lengths()[:, tf.newaxis] - 1)
        start_logits = tf.where(in_context, logits[..., 0], -np.inf)
        end_logits = tf.where(in_context, logits[..., 1], -np.inf)
        # Best (start, end) per window.
        span = tf.range(length)[tf.newaxis, :] - tf.range(length)[:, tf.newaxis]
        allowed = (span >= 0) & (span < self.model.max_answer_length)
        pair_scores = tf.where(allowed, start_logits[:, :, tf.newaxis] + end_logits[:, tf.newaxis, :], -np.inf)
        flat = tf.reshape(pair_scores, [tf.shape(pair_scores)[0], -1])
        best_pair = tf.argmax(flat, axis=1, output_type=tf.int32)
        window_scores = tf.reduce_max(flat, axis=1)
        # Best window per example.
        batch = tf.shape(contexts, out_type=tf.int64)[0]
        per_example = tf.RaggedTensor.from_value_rowids(window_scores, encoded["example"], nrows=batch)
        best_window = per_example.row_starts() + tf.argmax(per_example.to_tensor(-np.inf), axis=1)
        pair = tf.gather(best_pair, best_window)
        start_token, end_token = pair // length, pair % length
        start_probabilities = tf.gather(tf.nn.softmax(start_logits), best_window)
        end_probabilities = tf.gather(tf.nn.softmax(end_logits), best_window)
        score = (tf.gather(start_probabilities, start_token, batch_dims=1)
                 * tf.gather(end_probabilities, end_token, batch_dims=1))
        found = tf.math.is_finite(tf.gather(window_scores, best_window))  # False: the context has no words

        def byte_offset(pieces, token):
            """The byte offset of the word of the piece at `token` in the best window (0 where none)."""
            index = (pieces.row_starts() + tf.gather(encoded["window_start"], best_window)
                     + tf.cast(token, tf.int64) - tf.gather(encoded["context_offset"], best_window))
            values = tf.concat([pieces.flat_values, tf.zeros([1], pieces.dtype)], axis=0)
            return tf.gather(values, tf.where(found, index, tf.size(pieces.flat_values, out_type=tf.int64)))

        start_byte = byte_offset(encoded["piece_starts"], start_token)
        end_byte = byte_offset(encoded["piece_ends"], end_token)
        offsets = char_offsets(contexts, tf.stack([start_byte, end_byte], axis=1))
        return {"answer": tf.strings.substr(contexts, start_byte, end_byte - start_byte),
                "score": tf.where(found, score, 0.0),
                "start": tf.where(found, offsets[:, 0], -1), "end": tf.where(found, offsets[:, 1], -1)}

    def requests(self, examples):
        """The `serve` inputs of `QAExample`s (their gold answers are not read)."""
        return {"question": [e.question for e in examples], "context": [e.context for e in examples]}

    def answers(self, examples, outputs):
        """Rows of `question`, `answer`, `score` and the answer's character `start` and `end` in the
        context, from `serve`'s numpy outputs."""
        return [{"question": example.question, "answer": outputs["answer"][i].decode("utf-8", "replace"),
                 "score": round(float(outputs["score"][i]), 4), "start": int(outputs["start"][i]),
                 "end": int(outputs["end"][i])} for i, example in enumerate(examples)]

    def example_requests(self):
        """A small batch of inputs per signature, used for TF Serving warmup and export checks."""
        long_context = "Zürich is a city. " * 300 + "The treaty was signed in 1648 in Münster."
        return {"serving_default": {
            "question": tf.constant(["When was the treaty signed?", "谁赢了比赛？", "", "Where?"]),
            "context": tf.constant([long_context, "丹佛野马队赢得了第50届超级碗。", "Some context.", ""])}}
