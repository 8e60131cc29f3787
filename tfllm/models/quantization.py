"""Post-training int8 weights for a task model's backbone (Keras `quantize`), for GPT-2 and BERT tasks alike."""

import contextlib
import gc
import warnings

QUANTIZE_MODES = ("int8",)


def quantize_backbone(model, mode="int8"):
    """Gives `model.backbone` `mode` weights in place and returns `model`.

    Keras int8 keeps each Dense, EinsumDense and Embedding kernel as int8 with a float scale per output
    channel and quantizes activations per row on the fly: a quarter of the weight bytes. The heads keep
    their float weights (small, and what the answers are read from). Only native Keras backbones have
    quantizable layers; a TF-Hub encoder is one opaque SavedModel.

    Example:
    >>> import keras, keras_hub
    >>> bert = keras_hub.models.BertBackbone(vocabulary_size=50, num_layers=1, num_heads=2, hidden_dim=8,
    ...                                      intermediate_dim=16, max_sequence_length=8)
    >>> model = keras.Model()  # any model with a backbone
    >>> model.backbone = bert
    >>> quantize_backbone(model).backbone.token_embedding.embeddings.dtype
    'int8'
    """
    if mode not in QUANTIZE_MODES:
        raise ValueError(f"quantize must be one of {', '.join(QUANTIZE_MODES)}, not {mode!r}")
    backbone = model.backbone
    if not hasattr(backbone, "quantize") or not hasattr(backbone, "transformer_layers"):
        raise ValueError(f"int8 weights need a native Keras backbone, not {type(backbone).__name__} (train with "
                         "backbone.native: true)")
    with warnings.catch_warnings(), _one_garbage_collection():
        warnings.simplefilter("ignore", UserWarning)  # Keras warns for every layer without weights to quantize
        backbone.quantize(mode)
    return model


@contextlib.contextmanager
def _one_garbage_collection():
    """Keras runs a full `gc.collect()` for every float kernel it replaces: seconds per layer in a process
    holding many objects (11 s for a 3-layer MiniLM). One collection at the end frees the same buffers."""
    collect = gc.collect
    gc.collect = lambda *args, **kwargs: 0
    try:
        yield
    finally:
        gc.collect = collect
        gc.collect()
