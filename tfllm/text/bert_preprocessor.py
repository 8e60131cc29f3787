"""Raw text to BERT inputs, as one TensorFlow object for tf.data, evaluation and the export graph."""

import numpy as np
import tensorflow as tf

from tfllm.text.bert_packer import BertPacker
from tfllm.text.vocabulary import special_token_ids
from tfllm.text.wordpiece_tokenizer import WordPieceTokenizer


class BertPreprocessor(tf.Module):
    """Tokenizes one or two batches of strings and packs them into `token_ids`, `segment_ids`, `padding_mask`.

    The same object runs in the training pipeline (`pack`, then bucketing pads each batch only as far as
    it needs), in evaluation, and inside exported SavedModels (`__call__`), so served models see exactly
    the inputs they were trained on.

    Args:
        tokenizer: callable from a 1-D string tensor to ragged [batch, (tokens)] int32 ids, with a
            `vocabulary_file` attribute (a `WordPieceTokenizer` or a TF-Hub preprocess tokenizer).
        sequence_length: the most tokens per example, special tokens included; longer inputs are truncated.

    Example:
    >>> import os
    >>> from tfllm.backbones.sources import embedded_default_path
    >>> vocab = os.path.join(embedded_default_path(), "vocab.txt")  # all-MiniLM-L6-v2's (uncased BERT's)
    >>> preprocessor = BertPreprocessor.from_vocabulary(vocab, sequence_length=64)
    >>> preprocessor(tf.constant(["good film"]))["token_ids"]
    <tf.Tensor: shape=(1, 4), dtype=int32, numpy=array([[ 101, 2204, 2143,  102]], dtype=int32)>
    """

    def __init__(self, tokenizer, sequence_length=128, name=None):
        super().__init__(name=name)
        self.tokenizer = tokenizer
        ids = special_token_ids(tokenizer.vocabulary_file)
        self.pad_id = ids["[PAD]"]
        self.special_ids = [ids["[CLS]"], ids["[SEP]"], ids["[PAD]"]]  # what augmentation never changes
        self.packer = BertPacker(sequence_length, ids["[CLS]"], ids["[SEP]"], ids["[PAD]"])

    @classmethod
    def from_vocabulary(cls, vocabulary_file, lowercase=True, sequence_length=128):
        return cls(WordPieceTokenizer(vocabulary_file, lowercase=lowercase), sequence_length=sequence_length)

    @property
    def sequence_length(self):
        return self.packer.sequence_length

    def pack(self, texts, text_pairs=None):
        """Returns ragged int32 (token_ids, segment_ids) for a batch of strings (and their pairs)."""
        segments = [self.tokenizer(texts)]
        if text_pairs is not None:
            segments.append(self.tokenizer(text_pairs))
        return self.packer(segments)

    def uncut_lengths(self, texts, text_pairs=None, chunk=4096):
        """The tokens each example (a string, or a string and its pair) would take uncut, special tokens
        included: what `pack` cuts to `sequence_length` (numpy int64)."""
        lengths = []
        for start in range(0, len(texts), chunk):
            count = self.tokenizer(tf.constant(texts[start:start + chunk])).row_lengths() + 2
            if text_pairs is not None:
                count += self.tokenizer(tf.constant(text_pairs[start:start + chunk])).row_lengths() + 1
            lengths.append(count.numpy())
        return np.concatenate(lengths) if lengths else np.zeros(0, np.int64)

    def __call__(self, texts, text_pairs=None, length=None):
        """Returns dense model inputs padded to `length` (default: the batch's longest example)."""
        return self.packer.to_dense(*self.pack(texts, text_pairs), length=length)
