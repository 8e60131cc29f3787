"""Text that reaches the graph as bytes: make it valid UTF-8 instead of failing a whole batch."""

import tensorflow as tf


def replace_invalid_utf8(texts):
    """Replaces each byte sequence that is not UTF-8 with U+FFFD, in a string tensor of any shape.

    Example:
    >>> replace_invalid_utf8(tf.constant([b"caf\\xc3", b"ok"])).numpy()
    array([b'caf\\xef\\xbf\\xbd', b'ok'], dtype=object)
    """
    return tf.strings.unicode_transcode(texts, "UTF-8", "UTF-8", errors="replace")
