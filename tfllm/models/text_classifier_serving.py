"""The serving wrapper of a `TextClassifier`: raw strings in, probabilities and label names out."""

import numpy as np
import tensorflow as tf

from tfllm.models.task_server import TaskServer
from tfllm.text.entity_markers import mark_entities
from tfllm.text.utf8 import replace_invalid_utf8

SPAN_INPUTS = ("head_start", "head_end", "tail_start", "tail_end")  # relation models: character offsets


class TextClassifierServer(TaskServer):
    """Preprocessor, model and postprocessing in one graph, for `tf.saved_model.save` and TF Serving.

    Its `serve` function (the `serving_default` signature) takes `text` (and `text_pair` for pair models),
    1-D string tensors of any batch size, and returns:
      - `probabilities` [batch, labels] float32 (softmax, or sigmoid for multi-label models);
      - `label_ids`: [batch] int32 (single-label), or [batch, labels] 0/1 int32 (multi-label);
      - `label_names`: [batch] string, the predicted label, or the predicted labels joined by "," (multi-label,
        "" when none passes its threshold).
    Relation models (`relation=True`) take `text` with `head_start`, `head_end`, `tail_start` and
    `tail_end` ([batch] int32 character offsets, end exclusive) and mark the two entities in the graph.
    Inputs are padded only to the longest in the batch and truncated to the model's sequence length, or,
    for `long_text` models, read whole in windows whose logits are combined as in training.

    Example (not run by the test command: it needs a trained model):
    >>> server = TextClassifierServer(classifier)  # doctest: +SKIP
    >>> server.serve(tf.constant(["where is my parcel?"]))["label_names"]  # doctest: +SKIP
    <tf.Tensor: shape=(1,), dtype=string, numpy=array([b'track_order'], dtype=object)>
    """

    def __init__(self, classifier, name=None):
        super().__init__(classifier, name=name)
        self.preprocessor = classifier.preprocessor
        self.multi_label, self.text_pair, self.relation = classifier.multi_label, classifier.text_pair, classifier.relation
        self.label_names = tf.constant(classifier.labels.names)
        self.thresholds = tf.constant(classifier.thresholds, tf.float32)

    def input_signature(self):
        spec = [tf.TensorSpec([None], tf.string, name="text")]
        if self.model.text_pair:
            spec.append(tf.TensorSpec([None], tf.string, name="text_pair"))
        if self.model.relation:
            spec.extend(tf.TensorSpec([None], tf.int32, name=name) for name in SPAN_INPUTS)
        return spec

    def preprocess(self, text, *rest):
        if self.relation:
            text, rest = mark_entities(replace_invalid_utf8(text), *rest), ()
        token_ids, segment_ids, rows = self.model.pack(text, *rest)
        return self.preprocessor.packer.to_dense(token_ids, segment_ids), (rows, tf.size(text))

    def postprocess(self, logits, context):
        logits = self.model.text_logits(logits, *context)
        if not self.multi_label:
            label_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)
            return {"probabilities": tf.nn.softmax(logits), "label_ids": label_ids,
                    "label_names": tf.gather(self.label_names, label_ids)}
        probabilities = tf.sigmoid(logits)
        chosen = probabilities >= self.thresholds
        names = tf.ragged.boolean_mask(tf.broadcast_to(self.label_names, tf.shape(chosen)), chosen)
        return {"probabilities": probabilities, "label_ids": tf.cast(chosen, tf.int32),
                "label_names": tf.strings.reduce_join(names, axis=-1, separator=",")}

    def requests(self, examples):
        """The `serve` inputs of `TextExample`s (relation models: `RelationExample`s)."""
        inputs = {"text": [e.text for e in examples]}
        if self.text_pair:
            inputs["text_pair"] = [e.text_pair or "" for e in examples]
        if self.relation:
            spans = [(*e.head, *e.tail) for e in examples]
            inputs.update({name: [span[i] for span in spans] for i, name in enumerate(SPAN_INPUTS)})
        return inputs

    def answers(self, examples, outputs):
        """Rows of `text` (and `text_pair`, or `head` and `tail`), `label` (multi-label: `labels`, every
        label over its threshold) and `probabilities` by label name, from `serve`'s numpy outputs."""
        names = self.model.labels.names
        rows = []
        for i, example in enumerate(examples):
            row = {"text": example.text}
            if self.text_pair:
                row["text_pair"] = example.text_pair
            if self.relation:
                row.update(head=list(example.head), tail=list(example.tail))
            if self.multi_label:
                row["labels"] = [names[j] for j in np.flatnonzero(outputs["label_ids"][i])]
            else:
                row["label"] = outputs["label_names"][i].decode("utf-8")
            row["probabilities"] = {name: round(float(p), 4) for name, p in zip(names, outputs["probabilities"][i])}
            rows.append(row)
        return rows

    def example_requests(self):
        """A small batch of inputs per signature, used for TF Serving warmup and export checks."""
        texts = ["A short example.", "", "一个中文的例子。", "x" * 5000]
        inputs = {"text": tf.constant(texts)}
        if self.text_pair:
            inputs["text_pair"] = tf.constant(list(reversed(texts)))
        if self.relation:
            spans = [[2, 7, 8, 15], [0, 0, 0, 0], [2, 4, 5, 7], [0, 10, 4000, 4100]]
            inputs.update(zip(SPAN_INPUTS, tf.unstack(tf.constant(spans), axis=1)))
        return {"serving_default": inputs}
