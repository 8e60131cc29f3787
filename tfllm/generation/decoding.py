"""The cached decoding loop and the sampling rule, as TensorFlow ops (they run the same in-process and served).

All sampling parameters are tensors, so one traced (and XLA-compiled) function serves every setting:
    temperature 0            greedy
    temperature t > 0        sample from softmax(logits / t)
    top_k k > 0              only the k most likely tokens (0: all)
    top_p p < 1              only the smallest set of most likely tokens whose probability reaches p
Sampling is stateless: the draw at position i uses the seed pair (seed, i), so a seed reproduces a
completion exactly, in-process and from an exported SavedModel (XLA takes 32-bit seeds: the seed
is used modulo 2**32).
"""

import numpy as np
import tensorflow as tf
from keras import ops


def next_tokens(logits, temperature, top_k, top_p, seed, position):
    """One token per row from logits [batch, vocabulary] (float32); see the module doc for the parameters."""
    # No sort: a full sort of a 50k vocabulary costs ~30 ms per step under XLA on CPU, more than the model.
    # The top-k and top-p cut-offs are found by bisection on a threshold instead (elementwise passes,
    # well under a millisecond); tokens tied at a cut-off are all kept. Each rule runs only when it is on.
    def sample():
        scaled = logits / temperature

        def keep_top_k(scores):
            kth_largest = _largest_threshold(scores, lambda t: tf.reduce_sum(tf.cast(scores >= t, tf.float32), -1),
                                             tf.cast(top_k, tf.float32))
            return tf.where(scores >= kth_largest, scores, -1e9)

        def keep_top_p(scores):
            probabilities = tf.nn.softmax(scores)
            nucleus = _largest_threshold(
                probabilities, lambda t: tf.reduce_sum(tf.where(probabilities >= t, probabilities, 0.0), -1), top_p)
            return tf.where(probabilities >= nucleus, scores, -1e9)  # always keeps the most likely token

        scaled = tf.cond(top_k > 0, lambda: keep_top_k(scaled), lambda: scaled)
        scaled = tf.cond(top_p < 1.0, lambda: keep_top_p(scaled), lambda: scaled)
        # Gumbel-max: argmax(scores + Gumbel noise) is a draw from softmax(scores), and unlike
        # stateless_categorical (~14 ms per step on a 50k vocabulary under XLA) it is elementwise.
        uniform = tf.random.stateless_uniform(tf.shape(scaled), tf.stack([tf.cast(seed, tf.int32),
                                                                         tf.cast(position, tf.int32)]),
                                              minval=np.finfo(np.float32).tiny, maxval=1.0, alg="philox")
        return tf.argmax(scaled - tf.math.log(-tf.math.log(uniform)), axis=-1, output_type=tf.int32)

    return tf.cond(temperature > 0.0, sample, lambda: tf.argmax(logits, axis=-1, output_type=tf.int32))


def _largest_threshold(values, amount_at_least, target, iterations=32):
    """Per row, the largest t in [min, max] of `values` with amount_at_least(t) >= target (a decreasing function)."""
    low = tf.reduce_min(values, axis=-1, keepdims=True)
    high = tf.reduce_max(values, axis=-1, keepdims=True)
    for _ in range(iterations):
        middle = (low + high) / 2
        enough = (amount_at_least(middle) >= target)[:, tf.newaxis]
        low, high = tf.where(enough, middle, low), tf.where(enough, high, middle)
    return low


def decode(causal_lm, token_ids, prompt_mask, end_token_id, temperature, top_k, top_p, seed, limit=None):
    """Fills the positions of `token_ids` that `prompt_mask` leaves free, one token at a time with a KV cache.

    Args:
        causal_lm: a KerasHub-style causal LM with `call_with_cache` and `_build_cache` (a `CausalLM`).
        token_ids: int32 [batch, length]: each row's prompt, then room for new tokens.
        prompt_mask: bool [batch, length]: True on prompt tokens (a prefix of each row).
        end_token_id: decoding stops once every row has produced it.
        temperature, top_k, top_p, seed: scalar tensors, see `next_tokens`.
        limit: fill positions below this index only (default: all). Buffers padded to a few fixed
            lengths keep the number of XLA compilations small; `limit` keeps the padding from being decoded.

    Returns:
        int32 [batch, length]: the prompts and what was generated after them (anything after a row's
        first end token is to be ignored).
    """
    batch_size, length = tf.shape(token_ids)[0], tf.shape(token_ids)[1]
    limit = length if limit is None else tf.minimum(limit, length)
    _, cache = causal_lm._build_cache(token_ids)
    start = tf.reduce_min(tf.reduce_sum(tf.cast(prompt_mask, tf.int32), axis=-1))

    def unfinished(index, token_ids, cache, ended):
        return tf.logical_and(index < limit, tf.logical_not(tf.reduce_all(ended)))

    def step(index, token_ids, cache, ended):
        previous = ops.slice(token_ids, [0, index - 1], [batch_size, 1])
        logits, _, cache = causal_lm.call_with_cache(previous, cache, index - 1)
        new = next_tokens(tf.cast(logits[:, 0, :], tf.float32), temperature, top_k, top_p, seed, index)
        in_prompt = prompt_mask[:, index]
        new = tf.where(in_prompt, token_ids[:, index], new)
        ended = tf.logical_or(ended, tf.logical_and(tf.logical_not(in_prompt), tf.equal(new, end_token_id)))
        token_ids = ops.slice_update(token_ids, [0, index], new[:, tf.newaxis])
        return index + 1, token_ids, cache, ended

    _, token_ids, _, _ = tf.while_loop(
        unfinished, step, (start, token_ids, cache, tf.zeros([batch_size], tf.bool)), maximum_iterations=length)
    return token_ids


def beam_decode(causal_lm, token_ids, prompt_mask, end_token_id, num_beams, limit=None):
    """Beam search: the `num_beams` most likely continuations are kept at each step; returns the best.

    Scores are summed log-probabilities (no length normalization). A beam that produced the end token
    keeps its score; once every row's best beam has ended no other beam can overtake it (scores only
    fall), so decoding stops there.

    Args:
        causal_lm, token_ids, prompt_mask, end_token_id, limit: as in `decode`.
        num_beams: a Python int (XLA needs the beam count at compile time).

    Returns:
        int32 [batch, length]: each row's prompt followed by its best beam.
    """
    batch_size, length = tf.shape(token_ids)[0], tf.shape(token_ids)[1]
    limit = length if limit is None else tf.minimum(limit, length)
    rows = batch_size * num_beams
    token_ids = tf.repeat(token_ids, num_beams, axis=0)
    prompt_mask = tf.repeat(prompt_mask, num_beams, axis=0)
    _, cache = causal_lm._build_cache(token_ids)
    start = tf.reduce_min(tf.reduce_sum(tf.cast(prompt_mask, tf.int32), axis=-1))
    # All beams of a row start identical: only the first is live, or the first step would pick duplicates.
    scores = tf.tile(tf.constant([[0.0] + [-1e9] * (num_beams - 1)]), [batch_size, 1])

    def unfinished(index, token_ids, cache, scores, ended):
        best_ended = tf.reshape(ended, [batch_size, num_beams])[:, 0]
        return tf.logical_and(index < limit, tf.logical_not(tf.reduce_all(best_ended)))

    def step(index, token_ids, cache, scores, ended):
        previous = ops.slice(token_ids, [0, index - 1], [rows, 1])
        logits, _, cache = causal_lm.call_with_cache(previous, cache, index - 1)
        log_probs = tf.nn.log_softmax(tf.cast(logits[:, 0, :], tf.float32))
        vocabulary_size = tf.shape(log_probs)[-1]
        in_prompt = prompt_mask[:, index]
        # Prompt positions and ended beams have one possible next token, at no cost.
        forced = tf.where(in_prompt, token_ids[:, index], end_token_id)
        forced_log_probs = tf.where(tf.one_hot(forced, vocabulary_size) > 0, 0.0, -1e9)
        log_probs = tf.where(tf.logical_or(in_prompt, ended)[:, tf.newaxis], forced_log_probs, log_probs)
        candidates = tf.reshape(scores[:, :, tf.newaxis] + tf.reshape(log_probs, [batch_size, num_beams, -1]),
                                [batch_size, -1])
        scores, best = tf.math.top_k(candidates, k=num_beams)
        parents = tf.reshape(tf.range(batch_size)[:, tf.newaxis] * num_beams + best // vocabulary_size, [-1])
        new = tf.reshape(best % vocabulary_size, [-1])
        token_ids, cache, ended = tf.gather(token_ids, parents), tf.gather(cache, parents), tf.gather(ended, parents)
        ended = tf.logical_or(ended, tf.logical_and(tf.logical_not(in_prompt), tf.equal(new, end_token_id)))
        token_ids = ops.slice_update(token_ids, [0, index], new[:, tf.newaxis])
        return index + 1, token_ids, cache, scores, ended

    _, token_ids, _, _, _ = tf.while_loop(
        unfinished, step, (start, token_ids, cache, scores, tf.zeros([rows], tf.bool)), maximum_iterations=length)
    return tf.reshape(token_ids, [batch_size, num_beams, -1])[:, 0, :]
