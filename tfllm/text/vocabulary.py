"""WordPiece vocabulary files and the special tokens BERT packing needs."""

import tensorflow as tf

SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def read_vocabulary(path):
    """Returns the tokens of a one-token-per-line vocabulary file (any `tf.io.gfile` path)."""
    with tf.io.gfile.GFile(path, "r") as f:
        return [line.rstrip("\n") for line in f]


def special_token_ids(path):
    """Maps "[PAD]", "[UNK]", "[CLS]", "[SEP]" and "[MASK]" to their ids in the vocabulary at `path`.

    Raises:
        ValueError: naming the file and the missing tokens, if [PAD], [CLS], [SEP] or [UNK] is absent.
    """
    ids = {}
    for index, token in enumerate(read_vocabulary(path)):
        if token in SPECIAL_TOKENS and token not in ids:
            ids[token] = index
    missing = [t for t in SPECIAL_TOKENS[:4] if t not in ids]
    if missing:
        raise ValueError(f"{path}: the vocabulary has no {', '.join(missing)} token(s); a BERT vocabulary needs them.")
    return ids
