"""The serving wrapper of a `MaskedLM`: texts with [MASK] in, the likeliest tokens for each mask out."""

import tensorflow as tf

from tfllm.models.task_server import TaskServer
from tfllm.text.utf8 import replace_invalid_utf8
from tfllm.text.vocabulary import read_vocabulary, special_token_ids

MASK = "[MASK]"


class MaskedLMServer(TaskServer):
    """Fill-mask: tokenization (each literal "[MASK]" one mask token), the model and top-k in one graph.

    Its `serve` function (the `serving_default` signature) takes `text`, a 1-D string tensor of any
    batch size, and returns, per text, one row per mask (in reading order, padded to the batch's most):
      - `mask_count` [batch] int32: how many masks each text has within the sequence length;
      - `tokens` [batch, masks, top_k] string: the likeliest vocabulary entries ("##" marks a word's
        continuation, as in the vocabulary; "" as padding);
      - `scores` [batch, masks, top_k] float32: their probabilities (0 as padding).
    Masks past the model's sequence length are cut off with the text; a text without one gets none.

    Example (not run by the test command: it needs a pretrained model):
    >>> server = MaskedLMServer(masked_lm)  # doctest: +SKIP
    >>> server.serve(tf.constant(["the capital of france is [MASK]."]))["tokens"][0, 0, 0]  # doctest: +SKIP
    <tf.Tensor: shape=(), dtype=string, numpy=b'paris'>
    """

    def __init__(self, masked_lm, top_k=5, name=None):
        super().__init__(masked_lm, name=name)
        vocabulary_file = masked_lm.preprocessor.tokenizer.vocabulary_file
        self.vocabulary = tf.constant(read_vocabulary(vocabulary_file))
        self.mask_id = special_token_ids(vocabulary_file)[MASK]
        self.top_k = min(top_k, int(self.vocabulary.shape[0]))

    def input_signature(self):
        return [tf.TensorSpec([None], tf.string, name="text")]

    def preprocess(self, text):
        # The tokenizer would split a literal "[MASK]" (and lower-case it): tokenize the parts between
        # masks and put the mask id between them.
        parts = tf.strings.split(replace_invalid_utf8(text), MASK)
        pieces = self.model.preprocessor.tokenizer(parts.flat_values)
        before_mask = tf.cast(tf.ones_like(parts.flat_values, tf.int32), tf.bool)
        before_mask = tf.tensor_scatter_nd_update(before_mask, tf.expand_dims(parts.row_limits() - 1, 1),
                                                  tf.zeros_like(parts.row_limits(), tf.bool))
        masks = tf.RaggedTensor.from_row_lengths(tf.fill([tf.reduce_sum(tf.cast(before_mask, tf.int32))], self.mask_id),
                                                 tf.cast(before_mask, tf.int64))
        tokens = parts.with_flat_values(tf.concat([pieces, tf.cast(masks, pieces.dtype)], axis=1)).merge_dims(1, 2)
        token_ids, segment_ids = self.model.preprocessor.packer([tokens])
        features = self.model.preprocessor.packer.to_dense(token_ids, segment_ids)
        is_mask = tf.equal(features["token_ids"], self.mask_id)
        positions = tf.ragged.boolean_mask(tf.broadcast_to(tf.range(tf.shape(is_mask)[1]), tf.shape(is_mask)), is_mask)
        features["mask_positions"] = positions.to_tensor(default_value=0)
        return features, positions.row_lengths()

    def postprocess(self, outputs, mask_counts):
        logits = outputs["mlm"] if isinstance(outputs, dict) else outputs
        scores, ids = tf.math.top_k(tf.nn.softmax(logits), k=self.top_k)
        real = tf.sequence_mask(mask_counts, tf.shape(ids)[1])[:, :, tf.newaxis]
        return {"mask_count": tf.cast(mask_counts, tf.int32),
                "tokens": tf.where(real, tf.gather(self.vocabulary, ids), ""),
                "scores": tf.where(real, scores, 0.0)}

    def requests(self, texts):
        """The `serve` inputs of texts with "[MASK]" in them."""
        return {"text": list(texts)}

    def answers(self, texts, outputs):
        """Rows of `text` and its `masks`, per mask a list of {`token`, `score`}, likeliest first."""
        return [{"text": text, "masks": [[{"token": outputs["tokens"][i, m, k].decode("utf-8"),
                                           "score": round(float(outputs["scores"][i, m, k]), 4)}
                                          for k in range(self.top_k)] for m in range(outputs["mask_count"][i])]}
                for i, text in enumerate(texts)]

    def example_requests(self):
        """A small batch of inputs per signature, used for TF Serving warmup and export checks."""
        texts = ["The capital of France is [MASK].", "[MASK] [MASK]", "no mask here", "", "中国的首都是[MASK]京。",
                 "x " * 3000 + "[MASK]"]
        return {"serving_default": {"text": tf.constant(texts)}}
