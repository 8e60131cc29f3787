"""The serving graph of a causal LM: raw prompts and sampling parameters in, generated text out."""

import tensorflow as tf

from tfllm.generation.decoding import decode
from tfllm.text.utf8 import replace_invalid_utf8

# Decoding buffers are padded to a multiple of this, so XLA compiles a few shapes, not one per request.
_BUFFER_STEP = 32


class CausalLMServer(tf.Module):
    """Tokenizes prompts, decodes with a KV cache (XLA-compiled) and detokenizes, all in one TF graph.

    `serve(prompts, max_new_tokens, temperature, top_k, top_p, seed)` (the serving signature) returns `text` (the completion
    after each prompt, without the prompt), `token_count` (new tokens) and `ended` (True where the model
    produced `<|endoftext|>`, False where it hit `max_new_tokens` or the context). Prompts start after
    an `<|endoftext|>`, as training documents do, so an empty prompt is allowed. A prompt that leaves
    less than `max_new_tokens` of context keeps only its last tokens. `max_new_tokens` outside
    1..context-1 is an InvalidArgument error that says so.

    Example:
    >>> server = CausalLMServer(lm)  # doctest: +SKIP
    >>> server.serve(prompts=tf.constant(["Hello"]), max_new_tokens=tf.constant(8), temperature=tf.constant(0.0),
    ...                 top_k=tf.constant(0), top_p=tf.constant(1.0), seed=tf.constant(0, tf.int64))  # doctest: +SKIP
    """

    def __init__(self, causal_lm, jit_compile=True):
        super().__init__(name="causal_lm_server")
        self.causal_lm = causal_lm
        self.tokenizer = causal_lm.tokenizer
        self.context_length = causal_lm.context_length
        self.end_token_id = causal_lm.end_token_id
        self._decode = tf.function(lambda *args: decode(causal_lm, *args), jit_compile=jit_compile)
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None], tf.string, name="prompts"),
            tf.TensorSpec([], tf.int32, name="max_new_tokens"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.float32, name="top_p"),
            tf.TensorSpec([], tf.int64, name="seed"),
        ])

    def _serve(self, prompts, max_new_tokens, temperature, top_k, top_p, seed):
        checks = [
            tf.debugging.assert_greater(max_new_tokens, 0, message="max_new_tokens must be at least 1"),
            tf.debugging.assert_less(max_new_tokens, self.context_length,
                                     message=f"max_new_tokens must be below the context length {self.context_length}"),
            tf.debugging.assert_greater_equal(temperature, 0.0, message="temperature must be >= 0"),
            tf.debugging.assert_greater(top_p, 0.0, message="top_p must be in (0, 1]"),
        ]
        with tf.control_dependencies(checks):
            # Invalid UTF-8 becomes U+FFFD instead of failing the whole batch.
            prompts = replace_invalid_utf8(prompts)
        ids = self.tokenizer(prompts)
        start = tf.fill([ids.nrows(), 1], self.end_token_id)
        ids = tf.concat([tf.cast(start, ids.dtype), ids], axis=1)
        room = self.context_length - max_new_tokens
        ids = ids[:, -room:]
        prompt_lengths = tf.cast(ids.row_lengths(), tf.int32)
        limit = tf.minimum(tf.reduce_max(prompt_lengths) + max_new_tokens, self.context_length)
        buffer = tf.minimum((limit + _BUFFER_STEP - 1) // _BUFFER_STEP * _BUFFER_STEP, self.context_length)
        shape = tf.cast(tf.stack([ids.nrows(out_type=tf.int32), buffer]), ids.row_splits.dtype)
        token_ids = tf.cast(ids.to_tensor(default_value=0, shape=shape), tf.int32)
        prompt_mask = tf.sequence_mask(prompt_lengths, buffer)
        token_ids = self._decode(token_ids, prompt_mask, self.end_token_id, temperature, top_k, top_p, seed, limit)

        positions = tf.range(buffer)[tf.newaxis, :]
        new = tf.logical_and(positions >= prompt_lengths[:, tf.newaxis],
                             positions < tf.minimum(prompt_lengths + max_new_tokens, limit)[:, tf.newaxis])
        is_end = tf.logical_and(new, tf.equal(token_ids, self.end_token_id))
        before_end = tf.equal(tf.cumsum(tf.cast(is_end, tf.int32), axis=1), 0)
        generated = tf.ragged.boolean_mask(token_ids, tf.logical_and(new, before_end))
        return {
            # Byte-level tokens can stop inside a multi-byte character: such bytes become U+FFFD.
            "text": replace_invalid_utf8(self.tokenizer.detokenize(generated)),
            "token_count": tf.cast(generated.row_lengths(), tf.int32),
            "ended": tf.reduce_any(is_end, axis=1),
        }

    def example_inputs(self):
        """Inputs for warmup records and the fresh-process check: greedy and sampled, odd prompts included."""
        return {
            "prompts": tf.constant(["Hello", "", "你好，世界 🙂", "x" * 2000]),
            "max_new_tokens": tf.constant(8), "temperature": tf.constant(0.7), "top_k": tf.constant(20),
            "top_p": tf.constant(0.9), "seed": tf.constant(7, tf.int64),
        }
