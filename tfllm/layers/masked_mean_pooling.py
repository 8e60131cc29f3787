"""Mean of token vectors over the real (unpadded) tokens."""

import keras
from keras import ops


class MaskedMeanPooling(keras.layers.Layer):
    """Averages `sequence_output` [batch, length, hidden] over positions where `padding_mask` is 1.

    Sentence-embedding models such as all-MiniLM-L6-v2 were trained with this pooling, so their [CLS]
    pooler is not a trained sentence vector; fine-tuning on the mean works better there.

    Example:
    >>> import numpy as np
    >>> MaskedMeanPooling()(np.array([[[1.], [3.], [9.]]]), np.array([[1, 1, 0]])).numpy()
    array([[2.]], dtype=float32)
    """

    def call(self, sequence_output, padding_mask):
        mask = ops.cast(padding_mask, sequence_output.dtype)[:, :, None]
        return ops.sum(sequence_output * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)
