"""Tokenization by a TF-Hub BERT preprocess model."""

import os

import tensorflow as tf

from tfllm.backbones.tf_hub_handles import load_tf_hub_saved_model
from tfllm.text.utf8 import replace_invalid_utf8


class TFHubPreprocessTokenizer(tf.Module):
    """Uses a TF-Hub preprocess model's own `tokenize`, so text is normalized exactly as the encoder expects.

    Only `tokenize` is used: a preprocess model's `bert_pack_inputs` exists just for the `seq_length`
    values it was traced with (README.md, "Facts about the stack"), while `BertPacker` packs to any length and pads per batch.

    Args:
        handle: the preprocess model's handle or directory; its vocabulary is `assets/vocab.txt`.

    Example (not run by the test command: it downloads a TF-Hub preprocess model):
    >>> tokenizer = TFHubPreprocessTokenizer("path/to/bert_en_uncased_preprocess")  # doctest: +SKIP
    """

    def __init__(self, handle, name=None):
        super().__init__(name=name)
        self.handle = handle
        self._preprocess, path = load_tf_hub_saved_model(handle)
        self.vocabulary_file = os.path.join(path, "assets", "vocab.txt")
        if not tf.io.gfile.exists(self.vocabulary_file):
            raise ValueError(f"{handle}: no assets/vocab.txt; is this a TF-Hub BERT preprocess model?")

    def __call__(self, texts):
        texts = replace_invalid_utf8(texts)
        return tf.cast(self._preprocess.tokenize(texts).merge_dims(-2, -1), tf.int32)
