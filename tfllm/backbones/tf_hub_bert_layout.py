"""The variable layout of TF-Hub BERT encoders, mapped onto KerasHub's `BertBackbone`.

TF-Hub's BERT encoders (tfhub.dev/tensorflow/bert_*/4, small_bert/*/2, and Kaggle's copies) are the
Model Garden `BertEncoder` saved with these variable names. The shapes match KerasHub's layers one for
one (both use EinsumDense attention projections), so the mapping reads and writes values unchanged.
One table serves both directions: conversion into a native backbone and export back to TF-Hub format.
"""

import re

# (TF-Hub name, backbone sublayer, attribute) for the parts outside the transformer layers.
_EMBEDDING_VARIABLES = (
    ("word_embeddings/embeddings", "token_embedding", "embeddings"),
    ("position_embedding/embeddings", "position_embedding", "position_embeddings"),
    ("type_embeddings/embeddings", "segment_embedding", "embeddings"),
    ("embeddings/layer_norm/gamma", "embeddings_layer_norm", "gamma"),
    ("embeddings/layer_norm/beta", "embeddings_layer_norm", "beta"),
)
_POOLER_VARIABLES = (
    ("pooler_transform/kernel", "pooled_dense", "kernel"),
    ("pooler_transform/bias", "pooled_dense", "bias"),
)
_LAYER_VARIABLE = re.compile(r"^transformer/layer_(\d+)/")


def _transformer_layer_variables(block):
    attention = block._self_attention_layer
    return {
        "self_attention/query/kernel": attention.query_dense.kernel,
        "self_attention/query/bias": attention.query_dense.bias,
        "self_attention/key/kernel": attention.key_dense.kernel,
        "self_attention/key/bias": attention.key_dense.bias,
        "self_attention/value/kernel": attention.value_dense.kernel,
        "self_attention/value/bias": attention.value_dense.bias,
        "self_attention/attention_output/kernel": attention.output_dense.kernel,
        "self_attention/attention_output/bias": attention.output_dense.bias,
        "self_attention_layer_norm/gamma": block._self_attention_layer_norm.gamma,
        "self_attention_layer_norm/beta": block._self_attention_layer_norm.beta,
        "intermediate/kernel": block._feedforward_intermediate_dense.kernel,
        "intermediate/bias": block._feedforward_intermediate_dense.bias,
        "output/kernel": block._feedforward_output_dense.kernel,
        "output/bias": block._feedforward_output_dense.bias,
        "output_layer_norm/gamma": block._feedforward_layer_norm.gamma,
        "output_layer_norm/beta": block._feedforward_layer_norm.beta,
    }


def tf_hub_bert_variables(backbone):
    """Returns {TF-Hub variable name (no ":0"): Keras variable} for a built KerasHub `BertBackbone`."""
    variables = {}
    for hub_name, layer_name, attribute in _EMBEDDING_VARIABLES + _POOLER_VARIABLES:
        variables[hub_name] = getattr(backbone.get_layer(layer_name), attribute)
    for i in range(backbone.num_layers):
        block = backbone.get_layer(f"transformer_layer_{i}")
        for suffix, variable in _transformer_layer_variables(block).items():
            variables[f"transformer/layer_{i}/{suffix}"] = variable
    return variables


def bert_config_from_tf_hub_variables(values):
    """Infers `BertBackbone` arguments from {TF-Hub name: array}; raises KeyError if the layout differs."""
    num_layers = 1 + max(int(m.group(1)) for m in map(_LAYER_VARIABLE.match, values) if m)
    vocabulary_size, hidden_dim = values["word_embeddings/embeddings"].shape
    _, num_heads, _ = values["transformer/layer_0/self_attention/query/kernel"].shape
    return {
        "vocabulary_size": int(vocabulary_size),
        "num_layers": num_layers,
        "num_heads": int(num_heads),
        "hidden_dim": int(hidden_dim),
        "intermediate_dim": int(values["transformer/layer_0/intermediate/kernel"].shape[1]),
        "max_sequence_length": int(values["position_embedding/embeddings"].shape[0]),
        "num_segments": int(values["type_embeddings/embeddings"].shape[0]),
    }
