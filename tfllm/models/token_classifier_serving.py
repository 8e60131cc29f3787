"""The serving wrapper of a `TokenClassifier`: raw strings in, entities with types, scores and offsets out."""

import tensorflow as tf


class TokenClassifierServer(tf.Module):
    """Word splitting, tokenization, the model and entity decoding in one graph, for TF Serving.

    Its `serve` function (the `serving_default` signature) takes `text`, a 1-D string tensor of any batch
    size, and returns, per text, its entities in reading order, padded to the batch's most:
      - `entity_count` [batch] int32: how many entities each text has (the rest of its row is padding);
      - `entity_text`, `entity_type` [batch, entities] string ("" as padding);
      - `entity_score` [batch, entities] float32, the mean probability of the entity's word tags;
      - `entity_start`, `entity_end` [batch, entities] int32: character offsets into the text, end
        exclusive (-1 as padding), so `text[start:end] == entity_text` in Python.
    Texts longer than the model's sequence length are tagged up to it; empty strings get no entities.

    Example (not run by the test command: it needs a trained model):
    >>> server = TokenClassifierServer(tagger)  # doctest: +SKIP
    >>> server.serve(tf.constant(["Angela Merkel visited Paris."]))["entity_type"]  # doctest: +SKIP
    <tf.Tensor: shape=(1, 2), dtype=string, numpy=array([[b'PER', b'LOC']], dtype=object)>
    """

    def __init__(self, tagger, name=None):
        super().__init__(name=name)
        self.model = tagger
        self.serve = tf.function(self._serve, input_signature=[tf.TensorSpec([None], tf.string, name="text")])

    def _serve(self, text):
        entities = self.model.predict_entities(text)
        return {"entity_count": tf.cast(entities["starts"].row_lengths(), tf.int32),
                "entity_text": entities["texts"].to_tensor(default_value=""),
                "entity_type": entities["types"].to_tensor(default_value=""),
                "entity_score": entities["scores"].to_tensor(default_value=0.0),
                "entity_start": entities["starts"].to_tensor(default_value=-1),
                "entity_end": entities["ends"].to_tensor(default_value=-1)}

    def signatures(self):
        return {"serving_default": self.serve}

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
