"""Causal language modelling on GPT-2: fine-tuning on packed text and text generation."""

import contextlib
import dataclasses
import os
import random
import re
import tempfile

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tfllm import storage
from tfllm.backbones.gpt2_sources import load_gpt2
from tfllm.data.packing import pack_examples, pack_stream
from tfllm.models.chat_format import chat_training_examples
from tfllm.models.prompt_format import PromptFormat
from tfllm.models.raw_text import batch_of, checked_texts, is_raw_text, rows_of
from tfllm.models.task_fit import TaskFit
from tfllm.models.task_server import cached_server
from tfllm.models.task_files import CONFIG_FILE, WEIGHTS_FILE, TaskFiles
from tfllm.text.gpt2_tokenizer import GPT2Tokenizer

_ADAPTER_FILE = "adapter.lora.h5"


@contextlib.contextmanager
def _input_errors():
    """The served graph's checks of the sampling inputs (`top_p must be in (0, 1]`, ...) as a ValueError
    naming the value given, not TensorFlow's graph-execution error around it (TF Serving shows the latter).

    Example:
    >>> @tf.function
    ... def check(top_p):
    ...     tf.debugging.assert_less_equal(top_p, 1.0, message="top_p must be in (0, 1]")
    >>> with _input_errors():
    ...     check(tf.constant(2.0))
    Traceback (most recent call last):
    ValueError: top_p must be in (0, 1], not 2
    """
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        reason = re.search(r"assertion failed: \[(.+?)\] \[Condition.*?\[x \([^)]*\) = \] \[([^\]]*)\]", error.message,
                           re.S)
        if reason is None:
            raise
        raise ValueError(f"{reason.group(1)}, not {reason.group(2)}") from None


class CausalLM(TaskFiles, TaskFit, keras_hub.models.GPT2CausalLM):
    """A GPT-2 backbone with its tied output embedding, its tokenizer, and generation from raw text.

    Training examples are packed: documents are tokenized, joined with `<|endoftext|>` and cut into
    windows of `sequence_length` tokens, so no step computes padding. The model reports perplexity.
    `generate_text` runs the same graph (tokenization, XLA-compiled cached decoding, detokenization)
    as the exported SavedModel, unless the model was compiled with `jit_compile=False` (see `compile`).

    Args:
        backbone: a `keras_hub.models.GPT2Backbone`.
        tokenizer: the matching `tfllm.text.GPT2Tokenizer`.
        chat: trained on chats (`make_chat_dataset`): its export then has a `chat` signature too.
        prompt_format: a `PromptFormat` for conditional generation (`make_conditional_dataset`): the
            prompts of `generate_text` and of the export are then sources, which it wraps.

    Example (not run by the test command: it downloads GPT-2 and trains):
    >>> backbone, tokenizer = load_gpt2("gpt2_base_en")  # doctest: +SKIP
    >>> lm = CausalLM(backbone, tokenizer)  # doctest: +SKIP
    >>> lm.compile(optimizer=adamw_with_warmup(1e-4, total_steps=1000))  # doctest: +SKIP
    >>> lm.fit(lm.make_dataset(open("corpus.txt").read().split("\\n\\n"), sequence_length=128), epochs=1)  # doctest: +SKIP
    >>> lm.generate_text(["To be, or not to be"], max_new_tokens=32, temperature=0.8, top_p=0.9, seed=1)  # doctest: +SKIP
    """

    def __init__(self, backbone, tokenizer, chat=False, prompt_format=None, **kwargs):
        super().__init__(backbone=backbone, preprocessor=None, **kwargs)
        self.tokenizer = tokenizer
        self.chat = chat
        self.prompt_format = prompt_format
        self.lora_base = None  # set by `enable_lora`
        self.end_token_id = tokenizer.end_token_id
        self._decode_with_xla = True

    def compile(self, optimizer="adamw", **kwargs):
        """Compiles with next-token cross-entropy averaged over target tokens, token accuracy and perplexity.

        The loss is a mean over weighted (target) tokens, not over all positions, so it means the same
        for packed text and for chats where only replies are targets. As in KerasHub, `jit_compile=False`
        also decodes without XLA (`generate_text`, `reply`): on a CPU XLA decodes several times faster
        once compiled, but compiles for seconds anew for each batch shape, longer than a few one-off
        generations take; greedy and beam-search text is the same, samples for a seed differ (XLA's
        random generator is not TensorFlow's). Otherwise decoding uses XLA, as the export does, whatever
        Keras chooses for training (no XLA on CPU-only machines).
        """
        self._decode_with_xla = kwargs.get("jit_compile", "auto") is not False
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
        keras.Model.compile(
            self, optimizer=optimizer, loss=loss,
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                              keras_hub.metrics.Perplexity(from_logits=True, name="perplexity")], **kwargs)

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, **kwargs):
        """Keras `fit`; `x` may also be raw data, as KerasHub's GPT-2 takes strings: documents (strings),
        for a chat model dialogues (lists of turns), for a conditional one (source, target) pairs, made
        into `raw_dataset`'s batches (batch_size default 16); so may `validation_data`."""
        x, validation_data = rows_of(x), rows_of(validation_data)
        if is_raw_text(validation_data):
            validation_data = self.raw_dataset(checked_texts(validation_data, "validation_data"), batch_size or 16)
        if is_raw_text(x):
            x, batch_size = self.raw_dataset(checked_texts(x), batch_size or 16, training=True), None
        return super().fit(x, y, batch_size=batch_size, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """Keras `evaluate`; `x` may also be raw data, as `fit` takes it."""
        x = rows_of(x)
        if is_raw_text(x):
            x, batch_size = self.raw_dataset(checked_texts(x), batch_size or 16), None
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def predict(self, x, *args, **kwargs):
        """Keras `predict` of token features (logits); raw strings are refused, naming the methods that
        generate (KerasHub's own message would send the caller back to `predict`)."""
        if isinstance(x, (str, bytes)) or is_raw_text(rows_of(x)):
            raise ValueError("a CausalLM continues raw prompts with generate_text(prompts) (chat models: "
                             "reply(histories)); predict takes token features")
        return super().predict(x, *args, **kwargs)

    def raw_dataset(self, data, batch_size=16, training=False, sequence_length=None):
        """The batches this model trains on from raw `data`: `make_chat_dataset` of dialogues for a chat
        model, `make_conditional_dataset` of (source, target) pairs for one with a `prompt_format`, else
        `make_dataset` of documents; windows of `sequence_length` tokens (default 128, or less to fit
        the context)."""
        make = (self.make_chat_dataset if self.chat else
                self.make_conditional_dataset if self.prompt_format is not None else self.make_dataset)
        sequence_length = sequence_length or min(128, self.context_length - 1)
        return make(list(data), sequence_length=sequence_length, batch_size=batch_size, training=training)

    @property
    def context_length(self):
        return self.backbone.max_sequence_length

    def pack(self, texts, sequence_length):
        """Token windows [n, sequence_length + 1] and their weights: documents joined by the end token.

        The last window is padded; its padding has weight 0, so no token of the corpus is lost.
        """
        self._check_sequence_length(sequence_length)
        return pack_stream(self.tokenizer.token_ids(texts), self.end_token_id, sequence_length + 1)

    def make_dataset(self, texts, sequence_length=128, batch_size=16, training=False, seed=None):
        """Packed (features, next tokens, weights) batches for `fit`/`evaluate` from a list of documents."""
        return self._windows_dataset(*self.pack(texts, sequence_length), batch_size, training, seed)

    def make_chat_dataset(self, dialogues, sequence_length=128, batch_size=16, training=False, seed=None):
        """Batches that train the replies of `dialogues` (lists of turns, the user's first); see `chat_format`."""
        self._check_sequence_length(sequence_length)
        examples = chat_training_examples(self.tokenizer, dialogues, self.end_token_id, sequence_length + 1)
        return self._examples_dataset(examples, sequence_length, batch_size, training, seed)

    def make_conditional_dataset(self, pairs, sequence_length=128, batch_size=16, training=False, seed=None):
        """Batches that train the targets of (source, target) `pairs` in the model's `prompt_format`."""
        self._check_sequence_length(sequence_length)
        if self.prompt_format is None:
            raise ValueError("conditional generation needs a CausalLM built with a prompt_format")
        examples = self.prompt_format.training_examples(self.tokenizer, pairs, self.end_token_id, sequence_length + 1)
        return self._examples_dataset(examples, sequence_length, batch_size, training, seed)

    def _examples_dataset(self, examples, sequence_length, batch_size, training, seed):
        if training:
            # Mixed before packing, so an example's place in its window (its positions) varies. A copy: the
            # same examples must give the same dataset again (a resumed run rebuilds it).
            examples = list(examples)
            random.Random(seed).shuffle(examples)
        return self._windows_dataset(*pack_examples(examples, self.end_token_id, sequence_length + 1),
                                     batch_size, training, seed)

    def _check_sequence_length(self, sequence_length):
        if not 1 <= sequence_length < self.context_length:
            raise ValueError(f"sequence_length must be in 1..{self.context_length - 1}, not {sequence_length}")

    @staticmethod
    def _windows_dataset(windows, weights, batch_size, training, seed):
        features = {"token_ids": windows[:, :-1], "padding_mask": np.ones_like(windows[:, :-1], bool)}
        dataset = tf.data.Dataset.from_tensor_slices((features, windows[:, 1:], weights[:, 1:]))
        if training:
            dataset = dataset.shuffle(len(windows), seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def server(self):
        """The `CausalLMServer` (serving graph) that the generation methods run; one per model, traced once
        (and again after a `compile` that turns XLA decoding on or off, or new weights: see `cached_server`)."""
        from tfllm.models.causal_lm_serving import CausalLMServer

        return cached_server(self, lambda: CausalLMServer(self, jit_compile=self._decode_with_xla),
                             self._decode_with_xla)

    def generate_text(self, prompts, max_new_tokens=64, temperature=0.0, top_k=0, top_p=1.0, seed=0,
                      num_beams=1, stop=()):
        """Completions of `prompts` (a list of strings; of one string, its completion), decoded in the graph
        that `export` serves.

        For a model with a `prompt_format`, prompts are sources and the completions their targets.

        `num_beams` > 1 runs beam search (the sampling parameters are then unused); `stop` strings (or one)
        end a completion where one first appears.
        """
        if not isinstance(num_beams, int) or num_beams < 1:  # 0 sampled instead, silently
            raise ValueError(f"num_beams must be at least 1 (1: no beam search), not {num_beams!r}")
        prompts, one = batch_of(prompts)
        if not prompts:
            return []
        checked_texts(prompts, "prompts")
        prompts, stop = tf.constant(prompts, tf.string), tf.constant(batch_of(stop)[0], tf.string)
        max_new_tokens = tf.constant(max_new_tokens, tf.int32)
        with _input_errors():
            if num_beams > 1:
                outputs = self.server().beam_search_function(num_beams)(prompts, max_new_tokens, stop)
            else:
                outputs = self.server().serve(prompts, max_new_tokens, *self._sampling(temperature, top_k, top_p, seed),
                                              stop)
        texts = [text.decode("utf-8") for text in outputs["text"].numpy()]
        return texts[0] if one else texts

    def reply(self, histories, max_new_tokens=64, temperature=0.0, top_k=0, top_p=1.0, seed=0, stop=()):
        """The next reply to each chat history (a list of turns, oldest first, the user's last); to one
        history (a list of strings), its reply."""
        if not self.chat:
            raise ValueError("reply() needs a chat model (CausalLM(..., chat=True); a job with task: chat)")
        if histories and isinstance(histories[0], (str, bytes)):
            return self.reply([histories], max_new_tokens, temperature, top_k, top_p, seed, stop)[0]
        if not histories:
            return []
        checked_texts(histories, "histories")
        width = max(1, max(len(history) for history in histories))
        padded = [list(history) + [""] * (width - len(history)) for history in histories]
        with _input_errors():
            outputs = self.server().chat(tf.constant(padded, tf.string), tf.constant(max_new_tokens, tf.int32),
                                       *self._sampling(temperature, top_k, top_p, seed),
                                       tf.constant(batch_of(stop)[0], tf.string))
        return [text.decode("utf-8").strip() for text in outputs["text"].numpy()]

    @staticmethod
    def _sampling(temperature, top_k, top_p, seed):
        return (tf.constant(temperature, tf.float32), tf.constant(top_k, tf.int32), tf.constant(top_p, tf.float32),
                tf.constant(seed, tf.int64))

    def enable_lora(self, rank, base):
        """Freezes the backbone and trains rank-`rank` LoRA adapters on its attention queries and values.

        Args:
            rank: the rank of each adapter's factorization.
            base: the GPT-2 source (`load_gpt2`) the backbone came from: `save_to_dir` then writes only
                the adapters and this reference, and `load` rebuilds the model from both.
        """
        self.backbone.enable_lora(rank)
        self._adapt(base)

    def _adapt(self, base):
        """Marks the LoRA-enabled backbone as adapters on `base`; the one path for `enable_lora` and `load`."""
        for layer in self._lora_layers():
            layer.bias.trainable = False  # only the adapters train, so the adapter file holds all that changed
        self.lora_base = os.path.abspath(base) if os.path.isdir(base) else base

    def _lora_layers(self):
        return [layer for layer in self.backbone._flatten_layers() if getattr(layer, "lora_enabled", False)]

    def save_weights(self, filepath, overwrite=True, **kwargs):
        """Keras weights; a LoRA model also writes its adapters beside them (`<name>.lora.h5`).

        Keras stores a LoRA layer's kernel with the adapter merged in and zeroes the adapter on load,
        which would leave nothing to save apart after a checkpoint is restored; the side file undoes that.
        """
        super().save_weights(filepath, overwrite=overwrite, **kwargs)
        if self.lora_base:
            self.backbone.save_lora_weights(self._adapter_path(filepath))

    def load_weights(self, filepath, **kwargs):
        super().load_weights(filepath, **kwargs)
        if self.lora_base and os.path.exists(self._adapter_path(filepath)):
            self.backbone.load_lora_weights(self._adapter_path(filepath))
            for layer in self._lora_layers():
                # The loaded kernel is base + update; `kernel` now adds the update again.
                layer._kernel.assign(2 * layer._kernel - layer.kernel)

    @staticmethod
    def _adapter_path(weights_path):
        return str(weights_path).removesuffix(".weights.h5") + ".lora.h5"

    def _save_preset(self, directory):
        # Keras writes a LoRA layer's kernel with its adapter's update added: the preset is merged.
        self.backbone.save_to_preset(directory)
        keras_hub.models.GPT2Tokenizer(self.tokenizer.vocabulary, self.tokenizer.merges).save_to_preset(directory)

    def merged(self):
        """This model with its LoRA adapters merged into the backbone's weights: a plain, faster `CausalLM`."""
        if not self.lora_base:
            return self
        with tempfile.TemporaryDirectory() as directory:
            self._save_preset(directory)
            return CausalLM(*load_gpt2(directory), chat=self.chat, prompt_format=self.prompt_format)

    def get_config(self):
        """The model as JSON: its backbone's Keras config and its tokenizer, or, for a LoRA model, its base
        source and adapter rank; and its chat and prompt format."""
        prompt_format = dataclasses.asdict(self.prompt_format) if self.prompt_format else None
        config = {"chat": self.chat, "prompt_format": prompt_format, "lora_base": self.lora_base}
        if self.lora_base:
            return {**config, "lora_rank": self.backbone._lora_rank}
        backbone = keras.saving.serialize_keras_object(self.backbone)
        backbone["config"].pop("dtype", None)  # rebuilt under the loading process's policy, as `load_gpt2` does
        return {**config, "backbone": backbone,
                "tokenizer": {"vocabulary": self.tokenizer.vocabulary, "merges": self.tokenizer.merges}}

    @classmethod
    def from_config(cls, config):
        """The model `get_config` describes: fresh weights, or a LoRA model's base weights with fresh adapters."""
        prompt_format = PromptFormat(**config["prompt_format"]) if config.get("prompt_format") else None
        base = config.get("lora_base")
        if base:
            backbone, tokenizer = load_gpt2(base)
        else:
            backbone = keras.saving.deserialize_keras_object(config["backbone"])
            tokenizer = GPT2Tokenizer(config["tokenizer"]["vocabulary"], config["tokenizer"]["merges"])
        lm = cls(backbone, tokenizer, chat=config.get("chat", False), prompt_format=prompt_format)
        if base:
            lm.enable_lora(config["lora_rank"], base)
        return lm

    def write_assets(self, local):
        """Writes a KerasHub preset (config.json, tokenizer.json, vocabulary.json, merges.txt), which KerasHub
        and `load_gpt2` read too; the config names its tokenizer files. A LoRA model writes no preset."""
        config = self.get_config()
        if not self.lora_base:
            self._save_preset(local)
            config["tokenizer"] = {"vocabulary": "assets/tokenizer/vocabulary.json",
                                   "merges": "assets/tokenizer/merges.txt"}
        return config

    def write_weights(self, local):
        """The preset's backbone weights (the output layer is the tied embedding), or a LoRA model's adapters
        (a few MB): only they changed."""
        if self.lora_base:
            self.backbone.save_lora_weights(os.path.join(local, _ADAPTER_FILE))
            return _ADAPTER_FILE
        return WEIGHTS_FILE  # written with the preset

    def read_weights(self, path):
        if self.lora_base:
            self.backbone.load_lora_weights(path)
        else:
            self.backbone.load_weights(path)

    @classmethod
    def load(cls, directory):
        """Reads a dir written by `save_to_dir` (or any GPT-2 source that `load_gpt2` takes)."""
        with storage.local_copy(directory) as local:
            if not os.path.exists(os.path.join(local, CONFIG_FILE)):
                return cls(*load_gpt2(local))
            return super().load(local)
