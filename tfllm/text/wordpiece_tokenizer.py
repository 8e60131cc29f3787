"""BERT WordPiece tokenization as TensorFlow ops, so that it runs in tf.data and inside exported graphs."""

import tensorflow as tf
import tensorflow_text as tf_text

from tfllm.text.utf8 import replace_invalid_utf8


class WordPieceTokenizer(tf.Module):
    """Splits raw strings into WordPiece ids the way BERT's reference tokenizer does.

    Lower-casing (with NFD accent stripping, as in uncased BERT), punctuation splitting and one token per
    CJK character come from TF Text's `BertTokenizer`; its ops are the ones TF Serving links in. Bytes that
    are not valid UTF-8 are replaced with U+FFFD first, so any input gets an answer. BERT's reserved
    `[unusedN]` tokens stay whole (relation classification marks entities with them).

    Args:
        vocabulary_file: path of a one-token-per-line WordPiece vocabulary.
        lowercase: whether to lower-case and strip accents (uncased models).

    Example:
    >>> import os
    >>> from tfllm.backbones.sources import embedded_default_path
    >>> vocab = os.path.join(embedded_default_path(), "vocab.txt")  # all-MiniLM-L6-v2's (uncased BERT's)
    >>> tokenizer = WordPieceTokenizer(vocab)
    >>> tokenizer(tf.constant(["Hello world!"]))
    <tf.RaggedTensor [[7592, 2088, 999]]>
    """

    def __init__(self, vocabulary_file, lowercase=True, name=None):
        super().__init__(name=name)
        self.vocabulary_file = vocabulary_file
        self.lowercase = lowercase
        self._tokenizer = tf_text.BertTokenizer(
            vocabulary_file,
            lower_case=lowercase,
            # Cased models still need NFC so that composed and decomposed forms share ids.
            normalization_form=None if lowercase else "NFC",
            preserve_unused_token=True,
            token_out_type=tf.int32,
        )

    def tokenize_words(self, texts):
        """Returns a `tf.RaggedTensor` [batch, (words), (pieces)] of int32 ids, as TF-Hub preprocess models do."""
        texts = replace_invalid_utf8(texts)
        return self._tokenizer.tokenize(texts)

    def __call__(self, texts):
        """Returns a `tf.RaggedTensor` [batch, (tokens)] of int32 ids for a 1-D string tensor."""
        return self.tokenize_words(texts).merge_dims(-2, -1)
