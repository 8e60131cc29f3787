"""Causal language modelling on GPT-2: fine-tuning on packed text and text generation."""

import json
import os

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tfllm.backbones.gpt2_sources import load_gpt2

_CONFIG_FILE = "tfllm.json"


class CausalLM(keras_hub.models.GPT2CausalLM):
    """A GPT-2 backbone with its tied output embedding, its tokenizer, and generation from raw text.

    Training examples are packed: documents are tokenized, joined with `<|endoftext|>` and cut into
    windows of `sequence_length` tokens, so no step computes padding. The model reports perplexity.
    `generate_text` runs the same graph (tokenization, XLA-compiled cached decoding, detokenization)
    as the exported SavedModel.

    Args:
        backbone: a `keras_hub.models.GPT2Backbone`.
        tokenizer: the matching `tfllm.text.GPT2Tokenizer`.

    Example:
    >>> backbone, tokenizer = load_gpt2("gpt2_base_en")  # doctest: +SKIP
    >>> lm = CausalLM(backbone, tokenizer)  # doctest: +SKIP
    >>> lm.compile(optimizer=adamw_with_warmup(1e-4, total_steps=1000))  # doctest: +SKIP
    >>> lm.fit(lm.make_dataset(open("corpus.txt").read().split("\\n\\n"), sequence_length=128), epochs=1)  # doctest: +SKIP
    >>> lm.generate_text(["To be, or not to be"], max_new_tokens=32, temperature=0.8, top_p=0.9, seed=1)  # doctest: +SKIP
    """

    def __init__(self, backbone, tokenizer, **kwargs):
        super().__init__(backbone=backbone, preprocessor=None, **kwargs)
        self.tokenizer = tokenizer
        self.end_token_id = tokenizer.end_token_id
        self._tokenize = tf.function(tokenizer.tokenize)
        self._server = None

    def compile(self, optimizer="adamw", **kwargs):
        """Compiles with masked next-token cross-entropy, token accuracy and perplexity."""
        keras.Model.compile(
            self, optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                              keras_hub.metrics.Perplexity(from_logits=True, name="perplexity")], **kwargs)

    @property
    def context_length(self):
        return self.backbone.max_sequence_length

    def pack(self, texts, sequence_length):
        """Token windows [n, sequence_length + 1] and their weights: documents joined by the end token.

        The last window is padded; its padding has weight 0, so no token of the corpus is lost.
        """
        if not 1 <= sequence_length <= self.context_length:
            raise ValueError(f"sequence_length must be in 1..{self.context_length}, not {sequence_length}")
        ids = self._tokenize(tf.constant(list(texts), tf.string))
        end = tf.fill([ids.nrows(), 1], self.end_token_id)
        stream = tf.concat([end, ids], axis=1).flat_values.numpy()
        stream = np.append(stream, self.end_token_id)
        window = sequence_length + 1
        # Windows overlap by one token so every token is a target exactly once.
        count = max(1, -(-(len(stream) - 1) // sequence_length))
        padded = np.full(count * sequence_length + 1, self.end_token_id, np.int32)
        padded[: len(stream)] = stream
        weights = np.zeros(count * sequence_length + 1, np.float32)
        weights[1: len(stream)] = 1.0
        starts = np.arange(count) * sequence_length
        index = starts[:, None] + np.arange(window)[None, :]
        return padded[index], weights[index]

    def make_dataset(self, texts, sequence_length=128, batch_size=16, training=False, seed=None):
        """Packed (features, next tokens, weights) batches for `fit`/`evaluate` from a list of documents."""
        windows, weights = self.pack(texts, sequence_length)
        features = {"token_ids": windows[:, :-1], "padding_mask": np.ones_like(windows[:, :-1], bool)}
        dataset = tf.data.Dataset.from_tensor_slices((features, windows[:, 1:], weights[:, 1:]))
        if training:
            dataset = dataset.shuffle(len(windows), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def generate_text(self, prompts, max_new_tokens=64, temperature=0.0, top_k=0, top_p=1.0, seed=0):
        """Completions of `prompts` (a list of strings), decoded in the graph that `export` serves."""
        from tfllm.tasks.causal_lm_serving import CausalLMServer

        if self._server is None:
            self._server = CausalLMServer(self)
        outputs = self._server.serve(
            prompts=tf.constant(list(prompts), tf.string), max_new_tokens=tf.constant(max_new_tokens, tf.int32),
            temperature=tf.constant(temperature, tf.float32), top_k=tf.constant(top_k, tf.int32),
            top_p=tf.constant(top_p, tf.float32), seed=tf.constant(seed, tf.int64))
        return [text.decode("utf-8") for text in outputs["text"].numpy()]

    def save_to_dir(self, directory):
        """Writes a KerasHub preset dir (weights, config, vocab.json, merges.txt) that `load` and KerasHub read."""
        self.backbone.save_to_preset(directory)
        keras_hub.models.GPT2Tokenizer(self.tokenizer.vocabulary, self.tokenizer.merges).save_to_preset(directory)
        with open(os.path.join(directory, _CONFIG_FILE), "w") as f:
            json.dump({"task": "causal_lm"}, f)

    @classmethod
    def load(cls, directory):
        return cls(*load_gpt2(directory))
