"""The serving wrapper of a `TokenClassifier`: raw strings in, entities with types, scores and offsets out."""

import tensorflow as tf

from tfllm.models.task_server import TaskServer
from tfllm.text.utf8 import replace_invalid_utf8
from tfllm.text.word_pieces import char_offsets


class TokenClassifierServer(TaskServer):
    """Word splitting, tokenization, the model and entity decoding in one graph, for TF Serving.

    Its `serve` function (the `serving_default` signature) takes `text`, a 1-D string tensor of any batch
    size, and returns, per text, its entities in reading order, padded to the batch's most:
      - `entity_count` [batch] int32: how many entities each text has (the rest of its row is padding);
      - `entity_text`, `entity_type` [batch, entities] string ("" as padding);
      - `entity_score` [batch, entities] float32, the mean probability of the entity's word tags;
      - `entity_start`, `entity_end` [batch, entities] int32: character offsets into the text, end
        exclusive (-1 as padding), so `text[start:end] == entity_text` in Python.
    Texts longer than the model's sequence length are tagged up to it; empty strings get no entities.
    A word's tag is the most probable at its first piece; invalid UTF-8 bytes count as one U+FFFD
    character each.

    Example (not run by the test command: it needs a trained model):
    >>> server = TokenClassifierServer(tagger)  # doctest: +SKIP
    >>> server.serve(tf.constant(["Angela Merkel visited Paris."]))["entity_type"]  # doctest: +SKIP
    <tf.Tensor: shape=(1, 2), dtype=string, numpy=array([[b'PER', b'LOC']], dtype=object)>
    """

    def __init__(self, tagger, name=None):
        super().__init__(tagger, name=name)
        self.entity_types = tf.constant(tagger.tags.types)

    def input_signature(self):
        return [tf.TensorSpec([None], tf.string, name="text")]

    def preprocess(self, text):
        text = replace_invalid_utf8(text)
        encoded = self.model.encode(text)
        return self.model.preprocessor.packer.to_dense(encoded["token_ids"], encoded["segment_ids"]), (text, encoded)

    def postprocess(self, logits, context):
        texts, encoded = context
        probabilities = tf.nn.softmax(logits)
        # Words cut off by truncation point past the last piece; they are masked out by `tagged`.
        first_pieces = tf.minimum(encoded["first_pieces"].to_tensor(), tf.shape(probabilities)[1] - 1)
        word_probabilities = tf.gather(probabilities, first_pieces, batch_dims=1)
        entities = self.model.tags.decode(
            tf.argmax(word_probabilities, axis=-1, output_type=tf.int32), tf.reduce_max(word_probabilities, axis=-1),
            encoded["starts"].to_tensor(), encoded["ends"].to_tensor(), encoded["tagged"].to_tensor())
        starts, ends = entities["starts"], entities["ends"]
        row_texts = tf.gather(texts, starts.value_rowids())
        entity_texts = tf.strings.substr(row_texts, starts.flat_values, ends.flat_values - starts.flat_values)
        to_chars = lambda offsets: tf.RaggedTensor.from_tensor(  # noqa: E731
            char_offsets(texts, offsets.to_tensor()), lengths=offsets.row_lengths()).to_tensor(default_value=-1)
        return {"entity_count": tf.cast(starts.row_lengths(), tf.int32),
                "entity_text": starts.with_flat_values(entity_texts).to_tensor(default_value=""),
                "entity_type": tf.gather(self.entity_types, entities["type_ids"]).to_tensor(default_value=""),
                "entity_score": entities["scores"].to_tensor(default_value=0.0),
                "entity_start": to_chars(starts), "entity_end": to_chars(ends)}

    def requests(self, examples):
        """The `serve` inputs of `EntityExample`s (their gold entities are not read)."""
        return {"text": [e.text for e in examples]}

    def answers(self, examples, outputs):
        """Rows of `text` and its `entities`, each a dict of `text`, `type`, character `start` and `end`
        (end exclusive) and `score`, from `serve`'s numpy outputs."""
        rows = []
        for i, count in enumerate(outputs["entity_count"]):
            entities = [{"text": outputs["entity_text"][i, j].decode("utf-8", "replace"),
                         "type": outputs["entity_type"][i, j].decode("utf-8"),
                         "start": int(outputs["entity_start"][i, j]), "end": int(outputs["entity_end"][i, j]),
                         "score": round(float(outputs["entity_score"][i, j]), 4)} for j in range(count)]
            rows.append({"text": examples[i].text, "entities": entities})
        return rows

    def example_requests(self):
        """A small batch of inputs per signature, used for TF Serving warmup and export checks."""
        texts = ["Angela Merkel visited Paris.", "", "浙商银行的叶老桂博士。", "Zürich " * 400, b"bad \xff bytes"]
        return {"serving_default": {"text": tf.constant(texts)}}
