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


def batch_packed_inputs(token_ids, segment_ids, targets, preprocessor, batch_size, shuffle=False, fixed_length=False,
                        drop_remainder=False, seed=None, augmentation=None):
    """Builds a `tf.data.Dataset` of batches from packed BERT inputs and their targets.

    The inputs are tokenized up front (the task's preprocessor `pack`s them), so each epoch only
    reshuffles and pads, and the dataset knows its length (`len(dataset)`), also when bucketed: Keras
    shows a full progress bar from the first epoch.

    Args:
        token_ids, segment_ids: ragged int32 [n, (tokens)], from the preprocessor's `pack`.
        targets: a numpy array [n, ...] with one target per example (label ids, multi-hot rows, span
            positions, or example indices to restore the input order after bucketing); or a ragged int
            tensor [n, (tokens)] aligned with `token_ids`, one label per token and -1 where a token has
            none: batches then carry (features, labels, sample_weight), the weight 1 where a token has
            a label and 0 elsewhere. Label ids [n] of -1 mark examples without a label (a student's
            unlabeled texts): their batches carry a sample weight, 0 for those.
        preprocessor: the task's `BertPreprocessor` (pad id and sequence length).
        batch_size: examples per batch.
        shuffle: reshuffle every epoch (training).
        fixed_length: pad every batch to `preprocessor.sequence_length` (TPU, XLA with one shape);
            otherwise batches are bucketed by length and padded to their longest example.
        drop_remainder: drop the last partial batch (fixed batch shapes).
        seed: shuffle (and augmentation) seed.
        augmentation: a `TokenAugmentation` applied to every example, drawn anew each epoch (training).

    Returns:
        A dataset of ({"token_ids", "segment_ids", "padding_mask"} int32, targets[, sample_weight]) batches.
    """
    return _batched({"token_ids": token_ids, "segment_ids": segment_ids}, targets, preprocessor, batch_size, shuffle,
                    fixed_length, drop_remainder, seed, augmentation)


def batch_packed_sides(sides, targets, preprocessor, batch_size, shuffle=False, fixed_length=False,
                       drop_remainder=False, seed=None):
    """`batch_packed_inputs` for examples of several texts each (a query and its positive, say):
    `sides` maps a name to that text's packed ragged (token_ids, segment_ids); a batch's features map
    each name to its {"token_ids", "segment_ids", "padding_mask"}, padded to that side's longest text.
    Buckets go by an example's longest text."""
    features = {name: {"token_ids": token_ids, "segment_ids": segment_ids} for name, (token_ids, segment_ids)
                in sides.items()}
    return _batched(features, targets, preprocessor, batch_size, shuffle, fixed_length, drop_remainder, seed)


def _text_inputs(features):
    """The {"token_ids", "segment_ids"} dicts in `features`: itself, or one per side."""
    return [features] if "token_ids" in features else list(features.values())


def _per_text(features, value):
    """`features`' structure with `value(name)` for each of its tensors."""
    if "token_ids" in features:
        return {name: value(name) for name in features}
    return {side: _per_text(inputs, value) for side, inputs in features.items()}


def _batched(features, targets, preprocessor, batch_size, shuffle, fixed_length, drop_remainder, seed,
             augmentation=None):
    per_token = isinstance(targets, tf.RaggedTensor)
    # Weights mark the targets of -1: per-token ones always, label ids [n] only when some example has none.
    ids = None if per_token else np.asarray(targets)
    weighted = per_token or (ids.ndim == 1 and np.issubdtype(ids.dtype, np.signedinteger) and ids.min(initial=0) < 0)
    texts = _text_inputs(features)
    count = int(texts[0]["token_ids"].nrows())
    lengths = np.max([inputs["token_ids"].row_lengths().numpy() for inputs in texts], axis=0)
    dataset = tf.data.Dataset.from_tensor_slices((features, targets))

    def densify(features, target):
        # Slices of a RaggedTensor are ragged_rank=0 RaggedTensors, which padded_batch refuses.
        dense = lambda v: v.flat_values if isinstance(v, tf.RaggedTensor) else v  # noqa: E731
        return tf.nest.map_structure(dense, features), dense(target)

    dataset = dataset.map(densify).cache()
    if shuffle:
        dataset = dataset.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    if augmentation is not None and augmentation.active:
        dataset = augmentation.map_dataset(dataset, seed)
    target_dtype = targets.dtype if per_token else tf.as_dtype(targets.dtype)
    padding = (_per_text(features, lambda name: preprocessor.pad_id if name == "token_ids" else 0),
               tf.constant(-1 if per_token else 0, target_dtype))
    if fixed_length:
        length = preprocessor.sequence_length
        shapes = (_per_text(features, lambda name: [length]), [length] if per_token else targets.shape[1:])
        dataset = dataset.padded_batch(batch_size, shapes, padding, drop_remainder=drop_remainder)
        batches = _batch_count(np.array([count]), batch_size, drop_remainder)
    else:
        boundaries = length_buckets(preprocessor.sequence_length)
        dataset = dataset.bucket_by_sequence_length(
            lambda features, _: tf.reduce_max([tf.shape(inputs["token_ids"])[0] for inputs in _text_inputs(features)]),
            bucket_boundaries=boundaries,
            bucket_batch_sizes=[batch_size] * (len(boundaries) + 1),
            padding_values=padding,
            drop_remainder=drop_remainder,
        )
        # Each bucket emits full batches as they fill and its remainder at the end of the epoch.
        bucket_sizes = np.bincount(np.searchsorted(boundaries, lengths, side="right"), minlength=len(boundaries) + 1)
        batches = _batch_count(bucket_sizes, batch_size, drop_remainder)
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(batches))
    pad_id = preprocessor.pad_id

    def finish(features, target):
        for inputs in _text_inputs(features):
            inputs["padding_mask"] = tf.cast(tf.not_equal(inputs["token_ids"], pad_id), tf.int32)
        if weighted:
            return features, tf.maximum(target, 0), tf.cast(target >= 0, tf.float32)
        return features, target

    return dataset.map(finish).prefetch(tf.data.AUTOTUNE)


def _batch_count(group_sizes, batch_size, drop_remainder):
    full, remainder = np.divmod(group_sizes, batch_size)
    return int(full.sum() + (0 if drop_remainder else np.count_nonzero(remainder)))
