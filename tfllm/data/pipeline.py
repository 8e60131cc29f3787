"""tf.data pipelines: tokenize once on the host, then shuffle, bucket by length and pad per batch."""

import numpy as np
import tensorflow as tf


def length_buckets(sequence_length):
    """Bucket boundaries 8, 12, 16, 24, 32, 48, ... below `sequence_length`: at most ~1/3 of a batch is padding."""
    boundaries, size = [], 8
    while size < sequence_length:
        boundaries.append(size)
        if size * 3 // 2 < sequence_length:
            boundaries.append(size * 3 // 2)
        size *= 2
    return boundaries


def _with_padding_mask(pad_id):
    def add_mask(features, labels):
        features["padding_mask"] = tf.cast(tf.not_equal(features["token_ids"], pad_id), tf.int32)
        return features, labels
    return add_mask


def make_text_dataset(texts, text_pairs, labels, preprocessor, batch_size, shuffle=False, fixed_length=False,
                      drop_remainder=False, seed=None):
    """Builds a `tf.data.Dataset` of (features, labels) batches from in-memory texts.

    Texts are tokenized once, so each epoch only reshuffles and pads. The dataset knows its length
    (`len(dataset)`), also when bucketed.

    Args:
        texts, text_pairs: lists of strings (`text_pairs` None for single texts).
        labels: a numpy array of int label ids [n] or float multi-hot targets [n, labels]; None to predict.
        preprocessor: the task's `BertPreprocessor`.
        batch_size: examples per batch.
        shuffle: reshuffle every epoch (training).
        fixed_length: pad every batch to `preprocessor.sequence_length` (TPU, XLA with one shape);
            otherwise batches are bucketed by length and padded to their longest example.
        drop_remainder: drop the last partial batch (fixed batch shapes).
        seed: shuffle seed.

    Returns:
        A dataset of ({"token_ids", "segment_ids", "padding_mask"} int32, labels) batches; with
        `labels=None` the labels are the example indices, to restore input order after bucketing.
    """
    count = len(texts)
    targets = np.arange(count, dtype=np.int64) if labels is None else labels
    # Tokenized up front so that the lengths, and so the number of batches per epoch, are known:
    # Keras then shows a full progress bar from the first epoch.
    token_ids, segment_ids = preprocessor.pack(tf.constant(texts, tf.string),
                                               None if text_pairs is None else tf.constant(text_pairs, tf.string))
    lengths = token_ids.row_lengths().numpy()
    dataset = tf.data.Dataset.from_tensor_slices(({"token_ids": token_ids, "segment_ids": segment_ids}, targets))

    def densify(features, target):
        # Slices of a RaggedTensor are ragged_rank=0 RaggedTensors, which padded_batch refuses.
        return {k: v.flat_values if isinstance(v, tf.RaggedTensor) else v for k, v in features.items()}, target

    dataset = dataset.map(densify).cache()
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    pad = {"token_ids": preprocessor.pad_id, "segment_ids": 0}
    if fixed_length:
        shapes = ({"token_ids": [preprocessor.sequence_length], "segment_ids": [preprocessor.sequence_length]},
                  targets.shape[1:])
        dataset = dataset.padded_batch(batch_size, shapes, (pad, _zero(targets)), drop_remainder=drop_remainder)
        batches = _batch_count(np.array([count]), batch_size, drop_remainder)
    else:
        boundaries = length_buckets(preprocessor.sequence_length)
        dataset = dataset.bucket_by_sequence_length(
            lambda features, _: tf.shape(features["token_ids"])[0],
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            padding_values=(pad, _zero(targets)),
            drop_remainder=drop_remainder,
        )
        # Each bucket emits full batches as they fill and its remainder at the end of the epoch.
        bucket_sizes = np.bincount(np.searchsorted(boundaries, lengths, side="right"), minlength=len(boundaries) + 1)
        batches = _batch_count(bucket_sizes, batch_size, drop_remainder)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    return dataset.map(_with_padding_mask(preprocessor.pad_id)).prefetch(tf.data.AUTOTUNE)


def _zero(targets):
    return tf.constant(0, tf.as_dtype(targets.dtype))


def _batch_count(group_sizes, batch_size, drop_remainder):
    full, remainder = np.divmod(group_sizes, batch_size)
    return int(full.sum() + (0 if drop_remainder else np.count_nonzero(remainder)))
