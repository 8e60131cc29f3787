"""Entity vectors of relation classifiers: the mean of each marked span's token vectors, side by side."""

import keras
from keras import ops


class MarkerPooling(keras.layers.Layer):
    """Concatenates, per (start marker, end marker) pair, the mean vector of the tokens from one to the other.

    Relation classifiers read the head and the tail this way (mention pooling, markers included;
    Baldini Soares et al., 2019): the entity's own tokens and the markers that have attended to its
    context. A span that truncation cut off gives zeros.

    Args:
        marker_pairs: (start id, end id) token-id pairs, in output order.

    Example:
    >>> import numpy as np
    >>> vectors = np.array([[[1.], [2.], [3.], [4.], [5.]]])
    >>> MarkerPooling([(7, 8), (9, 10)])(vectors, np.array([[9, 10, 7, 5, 8]])).numpy()
    array([[4. , 1.5]], dtype=float32)
    """

    def __init__(self, marker_pairs, **kwargs):
        super().__init__(**kwargs)
        self.marker_pairs = [[int(start), int(end)] for start, end in marker_pairs]

    def call(self, sequence_output, token_ids):
        pooled = []
        for start, end in self.marker_pairs:
            opened = ops.cumsum(ops.cast(ops.equal(token_ids, start), "int32"), axis=1)
            closed = ops.cumsum(ops.cast(ops.equal(token_ids, end), "int32"), axis=1)
            # Inside: the start marker is open and the end marker not yet passed (the end marker itself counts).
            inside = ops.logical_and(opened > 0, (closed - ops.cast(ops.equal(token_ids, end), "int32")) < opened)
            mask = ops.cast(inside, sequence_output.dtype)[:, :, None]
            pooled.append(ops.sum(sequence_output * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0))
        return ops.concatenate(pooled, axis=-1)

    def get_config(self):
        return {**super().get_config(), "marker_pairs": self.marker_pairs}
