"""Hugging Face BERT checkpoint dirs (config.json, model.safetensors, vocab.txt) as native KerasHub backbones.

We read these ourselves rather than through KerasHub's converter because the converter changed under us:
keras-hub 0.25 (the newest release for Python 3.10) wants a `bert.` name prefix and LayerNorm `gamma`
/`beta`, so it cannot read sentence-transformers checkpoints such as the embedded all-MiniLM-L6-v2. This
reader takes every naming that BERT checkpoints use, on every keras-hub version we support.
"""

import json
import os

import keras_hub
import numpy as np

_CONFIG = "config.json"
_WEIGHTS = "model.safetensors"
# BertForSequenceClassification, BertForMaskedLM and the like keep the encoder under "bert.".
_ENCODER_PREFIX = "bert."
# Older checkpoints name LayerNorm scales and offsets gamma/beta; newer ones weight/bias.
_OLD_NORM_NAMES = {"gamma": "weight", "beta": "bias"}


def is_hf_bert_checkpoint(source):
    """True for a local dir holding a Hugging Face BERT config.json (KerasHub presets have `class_name`)."""
    path = os.path.join(source, _CONFIG)
    if not os.path.isfile(path):
        return False
    with open(path, encoding="utf-8") as file:
        return json.load(file).get("model_type") == "bert"


def _backbone_arguments(config, path):
    try:
        return {
            "vocabulary_size": config["vocab_size"],
            "num_layers": config["num_hidden_layers"],
            "num_heads": config["num_attention_heads"],
            "hidden_dim": config["hidden_size"],
            "intermediate_dim": config["intermediate_size"],
            "max_sequence_length": config.get("max_position_embeddings", 512),
            "num_segments": config.get("type_vocab_size", 2),
        }
    except KeyError as error:
        raise ValueError(f"{path}: missing field {error.args[0]!r}") from None


def _as_kernel(shape):
    """HF stores dense kernels as (out, in); Keras as (in, out), split per head for attention."""
    return lambda tensor: np.reshape(np.transpose(tensor), shape)


def _as_shape(shape):
    return lambda tensor: np.reshape(tensor, shape)


def hf_bert_variables(backbone):
    """Returns {HF tensor name: (Keras variable, transform of the HF array)} for a built `BertBackbone`."""
    def entry(variable, transform=None):
        return variable, transform or _as_shape(tuple(variable.shape))

    def kernel(variable):
        return variable, _as_kernel(tuple(variable.shape))

    def norm(prefix, layer):
        return {f"{prefix}.weight": entry(layer.gamma), f"{prefix}.bias": entry(layer.beta)}

    variables = {
        "embeddings.word_embeddings.weight": entry(backbone.get_layer("token_embedding").embeddings),
        "embeddings.position_embeddings.weight": entry(
            backbone.get_layer("position_embedding").position_embeddings),
        "embeddings.token_type_embeddings.weight": entry(backbone.get_layer("segment_embedding").embeddings),
        **norm("embeddings.LayerNorm", backbone.get_layer("embeddings_layer_norm")),
        "pooler.dense.weight": kernel(backbone.get_layer("pooled_dense").kernel),
        "pooler.dense.bias": entry(backbone.get_layer("pooled_dense").bias),
    }
    for i in range(backbone.num_layers):
        block = backbone.get_layer(f"transformer_layer_{i}")
        attention = block._self_attention_layer
        prefix = f"encoder.layer.{i}."
        for hf_name, dense in (("attention.self.query", attention.query_dense),
                               ("attention.self.key", attention.key_dense),
                               ("attention.self.value", attention.value_dense),
                               ("attention.output.dense", attention.output_dense),
                               ("intermediate.dense", block._feedforward_intermediate_dense),
                               ("output.dense", block._feedforward_output_dense)):
            variables[f"{prefix}{hf_name}.weight"] = kernel(dense.kernel)
            variables[f"{prefix}{hf_name}.bias"] = entry(dense.bias)
        variables.update(norm(f"{prefix}attention.output.LayerNorm", block._self_attention_layer_norm))
        variables.update(norm(f"{prefix}output.LayerNorm", block._feedforward_layer_norm))
    return variables


def _canonical_name(name):
    """Strips the task model's `bert.` prefix and maps old gamma/beta LayerNorm names to weight/bias."""
    name = name[len(_ENCODER_PREFIX):] if name.startswith(_ENCODER_PREFIX) else name
    head, _, last = name.rpartition(".")
    if head.endswith("LayerNorm"):
        last = _OLD_NORM_NAMES.get(last, last)
    return f"{head}.{last}"


def load_hf_bert_checkpoint(directory, dropout=0.1):
    """Builds a KerasHub `BertBackbone` from a Hugging Face BERT checkpoint dir.

    Args:
        directory: holds config.json and model.safetensors (a `BertModel`, or a `BertFor...` task model
            whose encoder is under `bert.`; task heads are ignored).
        dropout: the backbone's dropout rate.

    Returns:
        (`keras_hub.models.BertBackbone`, lowercase): whether its tokenizer lower-cases, from
        tokenizer_config.json (`do_lower_case`, True when absent, as in `transformers.BertTokenizer`).

    Raises:
        ValueError: naming the file and the tensor that is missing or has the wrong shape.

    Example (not run by the test command: it needs a Hugging Face checkpoint dir):
    >>> backbone, lowercase = load_hf_bert_checkpoint("path/to/all-MiniLM-L6-v2")  # doctest: +SKIP
    """
    from safetensors.numpy import load_file

    config_path, weights_path = os.path.join(directory, _CONFIG), os.path.join(directory, _WEIGHTS)
    with open(config_path, encoding="utf-8") as file:
        config = json.load(file)
    if not os.path.isfile(weights_path):
        raise FileNotFoundError(f"{weights_path}: not found; only safetensors checkpoints are read "
                                "(convert pytorch_model.bin with transformers' save_pretrained(safe_serialization=True))")
    backbone = keras_hub.models.BertBackbone(dropout=dropout, **_backbone_arguments(config, config_path))
    tensors = {_canonical_name(name): tensor for name, tensor in load_file(weights_path).items()}
    for name, (variable, transform) in hf_bert_variables(backbone).items():
        if name not in tensors:
            raise ValueError(f"{weights_path}: missing tensor {name!r}")
        try:
            variable.assign(transform(tensors[name]))
        except ValueError:
            raise ValueError(f"{weights_path}: tensor {name!r} has shape {tensors[name].shape}, "
                             f"expected {tuple(variable.shape)} for {config_path}") from None
    tokenizer_config = os.path.join(directory, "tokenizer_config.json")
    lowercase = True
    if os.path.isfile(tokenizer_config):
        with open(tokenizer_config, encoding="utf-8") as file:
            lowercase = json.load(file).get("do_lower_case", True)
    return backbone, lowercase
