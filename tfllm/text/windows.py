"""Sliding windows over token sequences, as TensorFlow ops, for texts longer than a model's input."""

import tensorflow as tf


def sliding_windows(tokens, window, stride):
    """Cuts each row of `tokens` into windows of at most `window` tokens, each starting `stride` after the last.

    The last window of a row ends at the row's end (it may overlap its neighbour by more than the
    others); a row that fits, or is empty, is one window.

    Args:
        tokens: ragged [batch, (tokens)].
        window: the most tokens per window: a scalar, or one per row ([batch] int).
        stride: tokens between window starts (at most `window`): a scalar, or one per row.

    Returns:
        (windows ragged [windows, (tokens)], rows [windows] int64: the row each window comes from,
        starts [windows] int64: where in its row each window starts). Windows are in row order.

    Example:
    >>> windows, rows, starts = sliding_windows(tf.ragged.constant([[1, 2, 3, 4, 5], [6]]), 3, 2)
    >>> windows.to_list(), rows.numpy().tolist(), starts.numpy().tolist()
    ([[1, 2, 3], [3, 4, 5], [6]], [0, 0, 1], [0, 2, 0])
    """
    lengths = tokens.row_lengths()
    window = tf.broadcast_to(tf.cast(window, tf.int64), tf.shape(lengths))
    stride = tf.minimum(tf.broadcast_to(tf.cast(stride, tf.int64), tf.shape(lengths)), window)
    overflow = tf.maximum(lengths - window, 0)
    counts = 1 + (overflow + stride - 1) // stride
    starts = tf.ragged.range(counts) * tf.expand_dims(stride, 1)
    rows = starts.value_rowids()
    # The last window is pulled back so that it ends at the row's end instead of running short.
    starts = tf.minimum(starts.flat_values, tf.gather(overflow, rows))
    ends = tf.minimum(starts + tf.gather(window, rows), tf.gather(lengths, rows))
    positions = tf.ragged.range(starts, ends) + tf.expand_dims(tf.gather(tokens.row_starts(), rows), 1)
    return tf.gather(tokens.flat_values, positions), rows, starts
