"""Losses of sentence-embedding training: in-batch negatives (InfoNCE) and cosine regression.

Under a multi-replica `tf.distribute` strategy the candidates are gathered from every replica, so
each query is scored against the global batch, as it would be on one device; each replica returns
its share of the mean (Keras sums the replicas' gradients).
"""

import tensorflow as tf


def in_batch_negatives_loss(queries, positives, negatives=None, scale=20.0, symmetric=False, positive_ids=None):
    """Multiple-negatives ranking loss (InfoNCE): each query's positive against every other positive of
    the (global) batch, and every hard negative, as a softmax over similarity x `scale` (1/temperature).

    Args:
        queries, positives: [batch, dim] embeddings; row i of each is a matching pair.
        negatives: [batch, dim] hard negatives, one per query, or None.
        scale: multiplies the dot products (1 / temperature); a tensor when the temperature is learned.
        symmetric: also rank the queries for each positive, and average the two directions.
        positive_ids: [batch] ints naming each positive text: another row with the same positive (two
            questions on one SQuAD paragraph) is not counted as a negative, in either direction.

    Returns:
        The loss for this replica: its queries' mean cross-entropy / replicas.

    Example:
    >>> q = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    >>> round(float(in_batch_negatives_loss(q, q)), 6) < round(float(in_batch_negatives_loss(q, q[::-1])), 6)
    True
    """
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    gather = (lambda x: context.all_gather(x, axis=0)) if replicas > 1 else (lambda x: x)  # noqa: E731
    local = tf.shape(queries)[0]
    # This replica's rows in the gathered batch (replicas may hold batches of different sizes).
    offset = tf.reduce_sum(gather(local[None])[:context.replica_id_in_sync_group]) if replicas > 1 else 0
    targets = offset + tf.range(local)
    candidates = gather(positives)
    logits = scale * tf.matmul(queries, candidates, transpose_b=True)
    duplicates = 0.0
    if positive_ids is not None:
        all_ids = gather(positive_ids)
        same = tf.equal(positive_ids[:, None], all_ids[None, :])
        other = tf.not_equal(targets[:, None], tf.range(tf.shape(all_ids)[0])[None, :])
        duplicates = tf.where(same & other, -1e9, 0.0)  # the same text as the positive is not a negative
        logits += duplicates
    if negatives is not None:
        logits = tf.concat([logits, scale * tf.matmul(queries, gather(negatives), transpose_b=True)], axis=1)
    loss = _cross_entropy(logits, targets)
    if symmetric:
        reverse = scale * tf.matmul(positives, gather(queries), transpose_b=True) + duplicates
        loss = (loss + _cross_entropy(reverse, targets)) / 2
    return loss / replicas


def cosine_regression_loss(queries, positives, scores):
    """Mean squared error between the cosine similarity of each pair and its gold `scores` (in [0, 1] or
    [-1, 1]), for graded-similarity (STS) data; this replica's share of the mean."""
    cosine = tf.reduce_sum(tf.math.l2_normalize(queries, -1) * tf.math.l2_normalize(positives, -1), axis=-1)
    context = tf.distribute.get_replica_context()
    replicas = context.num_replicas_in_sync if context is not None else 1
    return tf.reduce_mean(tf.square(cosine - tf.cast(scores, cosine.dtype))) / replicas


def _cross_entropy(logits, targets):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits))
