"""The serving wrapper of a `SpanExtractor`: (question, context) strings in, answer text and offsets out."""

import tensorflow as tf


class SpanExtractorServer(tf.Module):
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

    def __init__(self, reader, name=None):
        super().__init__(name=name)
        self.model = reader
        self.serve = tf.function(self._serve, input_signature=[tf.TensorSpec([None], tf.string, name="question"),
                                                                 tf.TensorSpec([None], tf.string, name="context")])

    def _serve(self, question, context):
        tf.debugging.assert_equal(tf.size(question), tf.size(context),
                                  message="question and context need the same batch size")
        answers = self.model.predict_answers(question, context)
        return {"answer": answers["text"], "score": answers["score"], "start": answers["start"], "end": answers["end"]}

    def signatures(self):
        return {"serving_default": self.serve}

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
