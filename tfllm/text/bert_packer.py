"""Packing of one or two token segments into BERT inputs: [CLS] a [SEP] (b [SEP])."""

import tensorflow as tf
import tensorflow_text as tf_text


class BertPacker(tf.Module):
    """Truncates segments round-robin to fit `sequence_length`, adds [CLS]/[SEP] and segment ids.

    The result stays ragged so that the data pipeline can bucket by length and pad only as far as each
    batch needs; `to_dense` pads a batch for the model.

    Args:
        sequence_length: the most tokens an example may have, special tokens included.
        cls_id, sep_id, pad_id: ids of [CLS], [SEP] and [PAD].
    """

    def __init__(self, sequence_length, cls_id, sep_id, pad_id, name=None):
        super().__init__(name=name)
        self.sequence_length = sequence_length
        self.cls_id, self.sep_id, self.pad_id = cls_id, sep_id, pad_id

    def __call__(self, segments):
        """Packs a list of 1 or 2 ragged [batch, (tokens)] tensors; returns ragged (token_ids, segment_ids)."""
        budget = self.sequence_length - len(segments) - 1
        trimmed = tf_text.RoundRobinTrimmer(max_seq_length=budget).trim(segments)
        token_ids, segment_ids = tf_text.combine_segments(
            trimmed, start_of_sequence_id=self.cls_id, end_of_segment_id=self.sep_id
        )
        return tf.cast(token_ids, tf.int32), tf.cast(segment_ids, tf.int32)

    def to_dense(self, token_ids, segment_ids, length=None):
        """Pads ragged ids to `length` (default: the longest row) and adds the int32 padding mask."""
        shape = None if length is None else [None, length]
        dense_ids = token_ids.to_tensor(default_value=self.pad_id, shape=shape)
        return {
            "token_ids": dense_ids,
            "segment_ids": segment_ids.to_tensor(default_value=0, shape=shape),
            # int32, not bool: Keras under MirroredStrategy cannot reduce bool batches (README.md).
            "padding_mask": tf.cast(tf.sequence_mask(token_ids.row_lengths(), tf.shape(dense_ids)[1]), tf.int32),
        }
