"""The serving graph of a causal LM: raw prompts (or chat histories) and sampling parameters in, text out."""

import functools

import tensorflow as tf
from tensorflow.python.trackable.data_structures import NoDependency

from tfllm.generation.decoding import beam_decode, decode
from tfllm.models.chat_format import chat_prompt_ids
from tfllm.models.task_server import TaskServer, signature_function
from tfllm.text.utf8 import replace_invalid_utf8

# Decoding buffers are padded to a multiple of this, so XLA compiles a few shapes, not one per request.
_BUFFER_STEP = 16

_SAMPLING_SPECS = [
    tf.TensorSpec([], tf.int32, name="max_new_tokens"),
    tf.TensorSpec([], tf.float32, name="temperature"),
    tf.TensorSpec([], tf.int32, name="top_k"),
    tf.TensorSpec([], tf.float32, name="top_p"),
    tf.TensorSpec([], tf.int64, name="seed"),
    tf.TensorSpec([None], tf.string, name="stop"),
]


class CausalLMServer(TaskServer):
    """Tokenizes, decodes with a KV cache (XLA-compiled) and detokenizes, all in one TF graph.

    Signatures (each returns `text`, the completion without the prompt; `token_count`, the new tokens
    decoded; and `ended`, True where the model produced `<|endoftext|>` or a stop string, False where
    it hit `max_new_tokens` or the context):
      - `serving_default` (`serve`): prompts [batch] string, max_new_tokens, temperature, top_k,
        top_p, seed, stop (see `tfllm.generation.decoding`).
      - `beam_search`: prompts, max_new_tokens, stop; `num_beams` beams (fixed when exported).
      - `chat` (for models trained on chats): history [batch, turns] string, right-padded with "",
        oldest turn first, the user's last; the sampling inputs as in `serve`. Returns the reply.
    Prompts start after an `<|endoftext|>`, as training documents do, so an empty prompt is allowed.
    For a conditional-generation model (a `PromptFormat`), prompts are sources and the text their target.
    A prompt that leaves less than `max_new_tokens` of context keeps only its last tokens; a chat
    history drops its oldest turns first. `stop` holds strings that end the text where one first
    appears (empty: none; invalid UTF-8 in them, as in prompts, becomes U+FFFD). `max_new_tokens`
    outside 1..context-1, `temperature` below 0, `top_p` outside (0, 1] and `top_k` below 0 are
    InvalidArgument errors that say so.

    `jit_compile=False` decodes without XLA (see `CausalLM.compile`; exports keep XLA). Decoding is a loop
    of model calls, so `_serve` is its own (see `TaskServer`); `requests` and `answers` turn prompts into
    `serve` inputs, with `sampling` (keywords of `serve`'s scalar inputs, default greedy decoding of 64
    tokens, or half the context if it is shorter), and its outputs into rows of `prompt`, `text`,
    `token_count` and `ended`.

    Example (not run by the test command: it needs a trained model):
    >>> server = CausalLMServer(lm)  # doctest: +SKIP
    >>> server.serve(prompts=tf.constant(["Hello"]), max_new_tokens=tf.constant(8), temperature=tf.constant(0.0),
    ...              top_k=tf.constant(0), top_p=tf.constant(1.0), seed=tf.constant(0, tf.int64),
    ...              stop=tf.constant([], tf.string))  # doctest: +SKIP
    """

    rows = ["prompts"]  # `stop` holds the request's stop strings, not one per prompt

    def __init__(self, causal_lm, num_beams=4, chat=None, jit_compile=True, sampling=None):
        super().__init__(causal_lm, name="causal_lm_server")
        self.sampling = NoDependency({"max_new_tokens": min(64, causal_lm.context_length // 2), "temperature": 0.0,
                                      "top_k": 0, "top_p": 1.0, "seed": 0, "stop": (), **(sampling or {})})
        self.tokenizer = causal_lm.tokenizer
        self.context_length = causal_lm.context_length
        self.end_token_id = causal_lm.end_token_id
        self.num_beams = num_beams
        self.has_chat = causal_lm.chat if chat is None else chat
        self.prompt_format = causal_lm.prompt_format
        self.jit_compile = jit_compile
        self._sample = tf.function(functools.partial(decode, causal_lm), jit_compile=jit_compile)
        # Keyed by beam count; not tracked (SavedModel needs string keys), the exported one is `beam_search`.
        self._beam_searches = NoDependency({})
        self.beam_search = self.beam_search_function(num_beams)
        # Only chat models have one: SavedModel traces every tf.function the module holds, used or not.
        chat_signature = [tf.TensorSpec([None, None], tf.string, name="history")] + _SAMPLING_SPECS
        self.chat = signature_function(self._chat, chat_signature, rows=["history"]) if self.has_chat else None

    def input_signature(self):
        return [tf.TensorSpec([None], tf.string, name="prompts")] + _SAMPLING_SPECS

    def signatures(self):
        """The functions to export, by signature name."""
        signatures = {"serving_default": self.serve, "beam_search": self.beam_search}
        if self.has_chat:
            signatures["chat"] = self.chat
        return signatures

    def beam_search_function(self, num_beams):
        """The `beam_search` signature's function for another beam count (traced once per count)."""
        if num_beams not in self._beam_searches:
            decoder = tf.function(functools.partial(beam_decode, self.model, num_beams=num_beams),
                                  jit_compile=self.jit_compile)

            def beam_search(prompts, max_new_tokens, stop):
                return self._beam_search(prompts, max_new_tokens, stop, decoder)

            self._beam_searches[num_beams] = signature_function(
                beam_search, [tf.TensorSpec([None], tf.string, name="prompts"), _SAMPLING_SPECS[0], _SAMPLING_SPECS[-1]],
                rows=["prompts"])
        return self._beam_searches[num_beams]

    def _prompt_room(self, max_new_tokens, temperature=0.0, top_k=0, top_p=1.0):
        """Prompt tokens that fit beside the start token and `max_new_tokens`; computed after the input checks."""
        checks = [
            tf.debugging.assert_greater(max_new_tokens, 0, message="max_new_tokens must be at least 1"),
            tf.debugging.assert_less(max_new_tokens, self.context_length,
                                     message=f"max_new_tokens must be below the context length {self.context_length}"),
            tf.debugging.assert_greater_equal(temperature, 0.0, message="temperature must be >= 0"),
            tf.debugging.assert_greater(top_p, 0.0, message="top_p must be in (0, 1]"),
            tf.debugging.assert_less_equal(top_p, 1.0, message="top_p must be in (0, 1]"),
            tf.debugging.assert_greater_equal(top_k, 0, message="top_k must be >= 0 (0: all tokens)"),
        ]
        with tf.control_dependencies(checks):
            return self.context_length - max_new_tokens - 1

    def _prompt_ids(self, prompts, room):
        # Invalid UTF-8 becomes U+FFFD instead of failing the whole batch.
        prompts = replace_invalid_utf8(prompts)
        if self.prompt_format:
            return self.prompt_format.prompt_ids(self.tokenizer, prompts, room)
        return self.tokenizer(prompts)[:, -room:]

    def _serve(self, prompts, max_new_tokens, temperature, top_k, top_p, seed, stop):
        room = self._prompt_room(max_new_tokens, temperature, top_k, top_p)
        sample = functools.partial(self._sample, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        return self._generate(self._prompt_ids(prompts, room), max_new_tokens, stop, sample)

    def _beam_search(self, prompts, max_new_tokens, stop, decoder):
        room = self._prompt_room(max_new_tokens)
        return self._generate(self._prompt_ids(prompts, room), max_new_tokens, stop, decoder)

    def _chat(self, history, max_new_tokens, temperature, top_k, top_p, seed, stop):
        room = self._prompt_room(max_new_tokens, temperature, top_k, top_p)
        ids = chat_prompt_ids(self.tokenizer, replace_invalid_utf8(history), room, self.end_token_id)
        sample = functools.partial(self._sample, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        return self._generate(ids, max_new_tokens, stop, sample)

    def _generate(self, ids, max_new_tokens, stop, decoder):
        """Runs `decoder(token_ids, prompt_mask, end_token_id, limit=...)` after an end token and the prompt ids."""
        start = tf.fill([ids.nrows(), 1], tf.cast(self.end_token_id, ids.dtype))
        ids = tf.concat([start, ids], axis=1)
        prompt_lengths = tf.cast(ids.row_lengths(), tf.int32)
        limit = tf.minimum(tf.reduce_max(prompt_lengths) + max_new_tokens, self.context_length)
        buffer = tf.minimum((limit + _BUFFER_STEP - 1) // _BUFFER_STEP * _BUFFER_STEP, self.context_length)
        shape = tf.cast(tf.stack([ids.nrows(out_type=tf.int32), buffer]), ids.row_splits.dtype)
        token_ids = tf.cast(ids.to_tensor(default_value=0, shape=shape), tf.int32)
        prompt_mask = tf.sequence_mask(prompt_lengths, buffer)
        token_ids = decoder(token_ids, prompt_mask, self.end_token_id, limit=limit)

        positions = tf.range(buffer)[tf.newaxis, :]
        new = tf.logical_and(positions >= prompt_lengths[:, tf.newaxis],
                             positions < tf.minimum(prompt_lengths + max_new_tokens, limit)[:, tf.newaxis])
        is_end = tf.logical_and(new, tf.equal(token_ids, self.end_token_id))
        before_end = tf.equal(tf.cumsum(tf.cast(is_end, tf.int32), axis=1), 0)
        generated = tf.ragged.boolean_mask(token_ids, tf.logical_and(new, before_end))
        # Byte-level tokens can stop inside a multi-byte character: such bytes become U+FFFD.
        text = replace_invalid_utf8(self.tokenizer.detokenize(generated))
        if self.prompt_format:
            text = self.prompt_format.target_text(text)
        text, stopped = _cut_at_stop_strings(text, stop)
        return {"text": text, "token_count": tf.cast(generated.row_lengths(), tf.int32),
                "ended": tf.logical_or(tf.reduce_any(is_end, axis=1), stopped)}

    def requests(self, prompts):
        """The `serve` inputs of prompt strings, with this server's `sampling`."""
        return {"prompts": list(prompts), **{spec.name: tf.constant(self.sampling[spec.name], spec.dtype)
                                             for spec in _SAMPLING_SPECS}}

    def answers(self, prompts, outputs):
        return [{"prompt": prompt, "text": outputs["text"][i].decode("utf-8"),
                 "token_count": int(outputs["token_count"][i]), "ended": bool(outputs["ended"][i])}
                for i, prompt in enumerate(prompts)]

    def example_requests(self):
        """Inputs per signature for warmup records and the fresh-process check; odd prompts included."""
        sampling = {"max_new_tokens": tf.constant(8), "temperature": tf.constant(0.7), "top_k": tf.constant(20),
                    "top_p": tf.constant(0.9), "seed": tf.constant(7, tf.int64), "stop": tf.constant(["\n\n"])}
        prompts = tf.constant(["Hello", "", "你好，世界 🙂", "x" * 2000])
        requests = {"serving_default": {"prompts": prompts, **sampling},
                    "beam_search": {"prompts": prompts[:2], "max_new_tokens": tf.constant(8),
                                    "stop": tf.constant([], tf.string)}}
        if self.has_chat:
            requests["chat"] = {"history": tf.constant([["Hi!", "Hello.", "How are you?"], ["你好", "", ""]]),
                                **sampling}
        return requests


def _cut_at_stop_strings(text, stop):
    """Cuts each text where any non-empty `stop` string first appears; also says which texts were cut.
    Stop strings are cleaned as prompts are (invalid UTF-8 becomes U+FFFD), so one bad string cannot
    fail the call."""
    stop = replace_invalid_utf8(stop)
    stop = tf.boolean_mask(stop, tf.strings.length(stop) > 0)
    escaped = tf.strings.regex_replace(stop, r"([\\.^$|?*+()\[\]{}])", r"\\\1")
    pattern = tf.strings.join(["(?s)(", tf.strings.reduce_join(escaped, separator="|"), ").*$"])
    cut = tf.cond(tf.size(stop) > 0, lambda: tf.strings.regex_replace(text, pattern, ""), lambda: text)
    return cut, tf.not_equal(tf.strings.length(cut), tf.strings.length(text))
