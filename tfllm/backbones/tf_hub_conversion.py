"""Conversion of TF-Hub BERT encoders into native KerasHub backbones (XLA, mixed precision, TPU)."""

import keras_hub

from tfllm.backbones.tf_hub_bert_layout import bert_config_from_tf_hub_variables, tf_hub_bert_variables


class NotConvertibleError(ValueError):
    """The encoder's variables are not the standard TF-Hub BERT layout."""


def convert_tf_hub_encoder(encoder, handle, dropout=0.1):
    """Builds a KerasHub `BertBackbone` holding the weights of a restored TF-Hub BERT encoder.

    Args:
        encoder: the object `tf.saved_model.load` returned for the encoder.
        handle: where it came from, for messages.
        dropout: the backbone's dropout rate.

    Raises:
        NotConvertibleError: naming the variables that differ from the Model Garden `BertEncoder` layout.

    Example (not run by the test command: it downloads a TF-Hub encoder):
    >>> encoder, _ = load_tf_hub_saved_model("path/to/encoder")  # doctest: +SKIP
    >>> backbone = convert_tf_hub_encoder(encoder, "path/to/encoder")  # doctest: +SKIP
    """
    values = {v.name.split(":")[0]: v.numpy() for v in getattr(encoder, "variables", [])}
    try:
        config = bert_config_from_tf_hub_variables(values)
    except (KeyError, ValueError) as error:
        raise NotConvertibleError(f"{handle}: not the TF-Hub BERT variable layout (no {error}).") from None
    backbone = keras_hub.models.BertBackbone(dropout=dropout, **config)
    targets = tf_hub_bert_variables(backbone)
    missing, extra = sorted(set(targets) - set(values)), sorted(set(values) - set(targets))
    if missing or extra:
        raise NotConvertibleError(f"{handle}: variables differ from the TF-Hub BERT layout "
                                  f"(missing {missing[:5]}, unexpected {extra[:5]}).")
    for name, variable in targets.items():
        if tuple(variable.shape) != values[name].shape:
            raise NotConvertibleError(f"{handle}: {name} has shape {values[name].shape}, "
                                      f"expected {tuple(variable.shape)}.")
        variable.assign(values[name])
    return backbone
