"""Training-time augmentation of packed word pieces, for small training sets.

Every change keeps a text's length, so the length buckets and the number of batches an epoch makes
(which sizes the learning-rate schedule) stay as counted; a fresh draw each epoch, from the seed.
Special tokens ([CLS], [SEP], padding) are never touched.
"""

import numpy as np
import tensorflow as tf


def keyword_hide_chances(token_ids, label_matrix, keyword_cutoff, support=5.0):
    """Each token id's chance of being hidden by keyword cutoff: `keyword_cutoff` for a word piece that
    training shows with one label only, less the more evenly the labels share it, and less for one in
    few texts; so the model learns to read the rest of a text too, not only a give-away word that a
    new wording may use otherwise, or not at all.

    For a word piece t and label c, with d_c(t) the share of label c's texts that hold t:
    share_c(t) = d_c(t) / (the sum of d over all labels) (label sizes evened out); keyness(t) =
    (max_c share_c(t) - 1/labels) / (1 - 1/labels), 0 for a piece spread evenly and 1 for a piece of
    one label; chance(t) = keyword_cutoff * keyness(t) * n(t) / (n(t) + support), n(t) the labeled texts
    that hold t.

    Args:
        token_ids: ragged int [n, (tokens)]: the training texts' word pieces.
        label_matrix: [n, labels] 0/1: each text's labels (one-hot, multi-hot; a row of zeros for an
            unlabeled text, which does not count).
        keyword_cutoff: the chance for a piece of one label, in [0, 1).
        support: texts at which a piece's chance is half its keyness allows.

    Returns:
        float32 [max id + 1]: a chance per token id.

    Example:

    >>> ids = tf.ragged.constant([[5, 1], [5, 2], [6, 3], [6, 1]])  # 5 only with label 0, 1 with both
    >>> chances = keyword_hide_chances(ids, np.eye(2)[[0, 0, 1, 1]], 0.5, support=0.0)
    >>> [float(chances[i]) for i in (5, 6, 1)]
    [0.5, 0.5, 0.0]
    """
    ids, rows = token_ids.flat_values.numpy().astype(np.int64), token_ids.value_rowids().numpy()
    label_matrix = np.asarray(label_matrix, np.float64)
    size, labels = int(ids.max(initial=0)) + 1, label_matrix.shape[1]
    pairs = np.unique(rows * size + ids)  # each piece once per text
    rows, ids = pairs // size, pairs % size
    counts = np.zeros([size, labels])
    np.add.at(counts, ids, label_matrix[rows])
    per_label = counts / np.maximum(label_matrix.sum(0), 1)
    share = per_label / np.maximum(per_label.sum(1, keepdims=True), 1e-12)
    keyness = np.clip((share.max(1) - 1 / labels) / (1 - 1 / labels), 0, 1)
    texts = np.bincount(ids, weights=label_matrix[rows].max(1), minlength=size)
    weight = np.divide(texts, texts + support, out=np.zeros(size), where=texts > 0)
    return (keyword_cutoff * keyness * weight).astype(np.float32)


class TokenAugmentation:
    """Hides and swaps word pieces of training examples, inside the `tf.data` pipeline.

    - token cutoff: each word piece is hidden with probability `token_cutoff` (Shen et al. 2020's
      "token cutoff"): it becomes padding, so attention and mean pooling skip it;
    - span cutoff: one contiguous run of `span_cutoff` of the text's word pieces is hidden;
    - local swaps: each word piece is swapped with the next with probability `local_swaps`;
    - keyword cutoff: each word piece is hidden with its own chance in `hide_chances` (from
      `keyword_hide_chances`: high for a word that gives the label away, none for one labels share).

    Args:
        token_cutoff, span_cutoff, local_swaps: shares in [0, 1).
        protected_ids: token ids never changed (the special tokens).
        pad_id: the id that hides a word piece (the backbone masks padding).
        hide_chances: None, or a chance in [0, 1) per token id [ids], covering every id of the texts.

    Example:

    >>> augment = TokenAugmentation(token_cutoff=0.5, protected_ids=[101, 102], pad_id=0)
    >>> ids = tf.constant([101, 7, 8, 9, 10, 11, 12, 102])
    >>> out = augment.token_ids(ids, seed=tf.constant([1, 2], tf.int64))
    >>> int(out[0]), int(out[-1]), bool(tf.reduce_any(out == 0)), out.shape == ids.shape
    (101, 102, True, True)
    """

    def __init__(self, token_cutoff=0.0, span_cutoff=0.0, local_swaps=0.0, protected_ids=(), pad_id=0,
                 hide_chances=None):
        for name, value in (("token_cutoff", token_cutoff), ("span_cutoff", span_cutoff), ("local_swaps", local_swaps)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        self.token_cutoff, self.span_cutoff, self.local_swaps = token_cutoff, span_cutoff, local_swaps
        self.protected_ids = tf.constant(sorted(set(int(i) for i in protected_ids)) or [-1], tf.int32)
        self.pad_id = pad_id
        self.hide_chances = None if hide_chances is None else tf.constant(hide_chances, tf.float32)

    @property
    def active(self):
        return bool(self.token_cutoff or self.span_cutoff or self.local_swaps or self.hide_chances is not None)

    def token_ids(self, token_ids, seed):
        """One example's 1-D `token_ids`, augmented with the stateless `seed` (int64 [2])."""
        token_ids = tf.convert_to_tensor(token_ids)
        seeds = tf.random.experimental.stateless_split(seed, 4)
        free = ~tf.reduce_any(tf.equal(token_ids[:, None], self.protected_ids[None, :]), axis=1)
        length = tf.shape(token_ids)[0]
        if self.local_swaps:
            token_ids = self._swapped(token_ids, free, tf.random.stateless_uniform([length], seeds[0]) < self.local_swaps)
        hidden = tf.zeros([length], tf.bool)
        if self.token_cutoff:
            hidden |= free & (tf.random.stateless_uniform([length], seeds[1]) < self.token_cutoff)
        if self.span_cutoff:
            hidden |= self._span(free, seeds[2])
        if self.hide_chances is not None:
            chances = tf.gather(self.hide_chances, tf.cast(token_ids, tf.int32))
            hidden |= free & (tf.random.stateless_uniform([length], seeds[3]) < chances)
        return tf.where(hidden, tf.constant(self.pad_id, token_ids.dtype), token_ids)

    def _swapped(self, token_ids, free, draws):
        # A swap starts at i when i and i + 1 are both free and i - 1 did not start one (no overlaps).
        pair_free = tf.concat([free[:-1] & free[1:], [False]], 0)
        starts = pair_free & draws
        previous = tf.concat([[False], starts[:-1]], 0)
        starts &= ~previous  # of two overlapping swaps, keep the first
        ends = tf.concat([[False], starts[:-1]], 0)
        next_ids = tf.concat([token_ids[1:], token_ids[-1:]], 0)
        previous_ids = tf.concat([token_ids[:1], token_ids[:-1]], 0)
        return tf.where(starts, next_ids, tf.where(ends, previous_ids, token_ids))

    def _span(self, free, seed):
        positions = tf.cast(tf.where(free)[:, 0], tf.int32)
        count = tf.shape(positions)[0]
        width = tf.cast(tf.round(self.span_cutoff * tf.cast(count, tf.float32)), tf.int32)
        start = tf.random.stateless_uniform([], seed, 0, tf.maximum(count - width + 1, 1), tf.int32)
        chosen = positions[start:start + width]
        return tf.scatter_nd(chosen[:, None], tf.ones_like(chosen, tf.bool), tf.shape(free))

    def map_dataset(self, dataset, seed):
        """`dataset` of (features, target) examples with every text's token ids augmented, drawn anew
        each epoch from `seed`."""
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

        def augment(example, pair_seed):
            features, target = example
            texts = [features] if "token_ids" in features else list(features.values())
            for index, inputs in enumerate(texts):
                text_seed = tf.random.experimental.stateless_fold_in(pair_seed, index)
                inputs["token_ids"] = self.token_ids(inputs["token_ids"], text_seed)
            return features, target

        return tf.data.Dataset.zip((dataset, seeds)).map(augment, num_parallel_calls=tf.data.AUTOTUNE)
