"""Where GPT-2 backbones come from: KerasHub presets, local preset dirs, Hugging Face dirs, or a fresh config."""

import os

import keras
import keras_hub
import tensorflow as tf

from tfllm import storage
from tfllm.text.gpt2_tokenizer import GPT2Tokenizer

# Fresh GPT-2 shapes, tiny to GPT-2 base (124M with the 50257-token vocabulary).
GPT2_SIZES = {
    "tiny": dict(num_layers=2, num_heads=2, hidden_dim=64, intermediate_dim=256, max_sequence_length=256),
    "mini": dict(num_layers=4, num_heads=4, hidden_dim=256, intermediate_dim=1024, max_sequence_length=512),
    "small": dict(num_layers=6, num_heads=8, hidden_dim=512, intermediate_dim=2048, max_sequence_length=1024),
    "base": dict(num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072, max_sequence_length=1024),
}


def load_gpt2(source, dropout=None):
    """A pretrained GPT-2 backbone and its tokenizer.

    Args:
        source: a KerasHub preset name (`gpt2_base_en`, `gpt2_medium_en`, ...; needs the network), a
            KerasHub preset dir (local or any `tf.io.gfile` path), or a Hugging Face GPT-2 checkpoint dir
            (config.json, model.safetensors, vocab.json, merges.txt).
        dropout: overrides the checkpoint's dropout rate.

    Returns:
        (`keras_hub.models.GPT2Backbone`, `GPT2Tokenizer`).

    Example (not run by the test command: it downloads a KerasHub preset):
    >>> backbone, tokenizer = load_gpt2("gpt2_base_en")  # doctest: +SKIP
    """
    if storage.on_gfile(source) and (os.path.sep in source or storage.is_remote(source)) \
            and not tf.io.gfile.isdir(source):
        raise FileNotFoundError(f"{source}: no such GPT-2 checkpoint directory")
    # The current policy, not the one saved with the preset: a model trained in mixed precision loads in
    # float32 for evaluation and export (see tfllm.training.precision).
    overrides = {"dtype": keras.config.dtype_policy().name}
    if dropout is not None:
        overrides["dropout"] = dropout
    backbone = keras_hub.models.GPT2Backbone.from_preset(source, **overrides)
    upstream = keras_hub.models.GPT2Tokenizer.from_preset(source)
    return backbone, GPT2Tokenizer(upstream.vocabulary, upstream.merges)


def gpt2_from_scratch(size, vocabulary, merges, max_sequence_length=None, dropout=0.1):
    """A randomly initialised GPT-2 of one of `GPT2_SIZES` over a BPE vocabulary (see `train_byte_pair_vocabulary`).

    `vocabulary` and `merges` are local vocab.json and merges.txt paths, or their contents (a dict, a list).

    Example (not run by the test command: it downloads a KerasHub preset):
    >>> backbone, tokenizer = gpt2_from_scratch("tiny", "bpe/vocab.json", "bpe/merges.txt")  # doctest: +SKIP
    """
    if size not in GPT2_SIZES:
        raise ValueError(f"GPT-2 size must be one of {sorted(GPT2_SIZES)}, not {size!r}")
    tokenizer = GPT2Tokenizer(vocabulary, merges)
    shape = dict(GPT2_SIZES[size])
    if max_sequence_length:
        shape["max_sequence_length"] = max_sequence_length
    backbone = keras_hub.models.GPT2Backbone(vocabulary_size=tokenizer.vocabulary_size(), dropout=dropout, **shape)
    return backbone, tokenizer
