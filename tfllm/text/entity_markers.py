"""Entity markers around a head and a tail span, inserted in TF ops, for relation classification."""

import tensorflow as tf

# BERT vocabularies reserve [unusedN] tokens; WordPieceTokenizer keeps them whole.
HEAD_START, HEAD_END, TAIL_START, TAIL_END = "[unused0]", "[unused1]", "[unused2]", "[unused3]"
MARKERS = (HEAD_START, HEAD_END, TAIL_START, TAIL_END)


def mark_entities(texts, head_starts, head_ends, tail_starts, tail_ends):
    """Wraps each text's head span in [unused0] ... [unused1] and its tail span in [unused2] ... [unused3].

    Offsets are characters (code points), end exclusive, [batch] int; they are clipped into the text.
    Spans should not overlap (the readers reject that); overlapping ones still give a string.

    Example:
    >>> mark_entities(tf.constant(["Jobs founded Apple."]), [0], [4], [13], [18]).numpy()[0].decode()
    ' [unused0] Jobs [unused1]  founded  [unused2] Apple [unused3] .'
    """
    _, char_starts = tf.strings.unicode_decode_with_offsets(texts, "UTF-8", replacement_char=0xFFFD)
    lengths = tf.expand_dims(tf.cast(tf.strings.length(texts), tf.int64), 1)
    byte_at = tf.concat([char_starts, lengths], axis=1).to_tensor(
        default_value=tf.int64.max)
    count = tf.expand_dims(char_starts.row_lengths(), 1)
    offsets = tf.clip_by_value(tf.cast(tf.stack([head_starts, head_ends, tail_starts, tail_ends], axis=1), tf.int64),
                               0, count)
    # Sorted insertion points; at a tie an end marker goes before a start marker.
    order = tf.argsort(offsets * 2 + tf.constant([1, 0, 1, 0], tf.int64), axis=1, stable=True)
    points = tf.gather(tf.gather(byte_at, offsets, batch_dims=1), order, batch_dims=1)
    markers = tf.gather(tf.constant([f" {marker} " for marker in MARKERS]), order)
    bounds = tf.concat([tf.zeros_like(lengths), points, lengths], axis=1)
    parts = [tf.strings.substr(texts, bounds[:, i], bounds[:, i + 1] - bounds[:, i]) for i in range(5)]
    return tf.strings.join([parts[0], markers[:, 0], parts[1], markers[:, 1], parts[2], markers[:, 2], parts[3],
                            markers[:, 3], parts[4]])
