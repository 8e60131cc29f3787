"""Words with their offsets in the raw text, and the word pieces of each word, as TensorFlow ops."""

import tensorflow as tf
# BERT's own word-splitting rules; TF Text exports them only inside BertTokenizer, which normalizes first.
from tensorflow_text.python.ops.bert_tokenizer import BasicTokenizer

from tfllm.text.utf8 import replace_invalid_utf8


class WordSplitter(tf.Module):
    """Splits raw strings into BERT's words (whitespace, punctuation, one per CJK character), keeping offsets.

    The split runs on the text as given, before any lower-casing or accent stripping: TF Text reports
    offsets into the normalized text, which drift from the input at the first accented letter. Each word
    is then normalized and cut into pieces by the task's own tokenizer, so the pieces are the ones the
    backbone was trained on and the offsets are the input's.

    Args:
        tokenizer: the backbone's tokenizer, a callable from a 1-D string tensor to ragged
            [batch, (pieces)] int32 ids (a `WordPieceTokenizer` or a TF-Hub preprocess tokenizer).

    Example:
    >>> import os
    >>> from tfllm.backbones.sources import embedded_default_path
    >>> vocab = os.path.join(embedded_default_path(), "vocab.txt")  # all-MiniLM-L6-v2's (uncased BERT's)
    >>> from tfllm.text.wordpiece_tokenizer import WordPieceTokenizer
    >>> splitter = WordSplitter(WordPieceTokenizer(vocab))
    >>> pieces, starts, ends = splitter(tf.constant(["Café Zürich"]))
    >>> starts, ends  # byte offsets
    (<tf.RaggedTensor [[0, 6]]>, <tf.RaggedTensor [[5, 13]]>)
    """

    def __init__(self, tokenizer, name=None):
        super().__init__(name=name)
        self.tokenizer = tokenizer
        self._basic = BasicTokenizer(lower_case=False, normalization_form=None)

    def __call__(self, texts):
        """Returns (pieces [batch, (words), (pieces)] int32, word starts, word ends [batch, (words)] int64).

        Offsets are in bytes of the input (after invalid UTF-8 became U+FFFD, which keeps valid text's
        offsets); a word whose pieces are empty (a lone combining mark, say) keeps its place with none.
        """
        texts = replace_invalid_utf8(texts)
        words, starts, ends = self._basic.tokenize_with_offsets(texts)
        pieces = self.tokenizer(words.flat_values)
        return words.with_flat_values(pieces), starts, ends


def char_offsets(texts, byte_offsets):
    """Converts byte offsets [batch, n] (dense int64) into `texts` to character (code point) offsets, int32."""
    _, char_starts = tf.strings.unicode_decode_with_offsets(texts, "UTF-8", replacement_char=0xFFFD)
    # A byte offset's character offset is the number of characters that start before it.
    padded_starts = char_starts.to_tensor(default_value=tf.int64.max)
    return tf.searchsorted(padded_starts, tf.cast(byte_offsets, tf.int64), side="left", out_type=tf.int32)
