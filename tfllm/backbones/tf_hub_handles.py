"""Short names for the well-known TF-Hub BERT encoders, with their matching preprocess models.

tensorflow_hub resolves tfhub.dev addresses to their Kaggle copies; a Kaggle model address, a Kaggle
model handle (`owner/model/tensorFlow2/variation[/version]`) or a local SavedModel directory works
anywhere a handle is taken.
"""

import os
import re

_TFHUB = "https://tfhub.dev/tensorflow"
_UNCASED_PREPROCESS = f"{_TFHUB}/bert_en_uncased_preprocess/3"
_CASED_PREPROCESS = f"{_TFHUB}/bert_en_cased_preprocess/3"

TF_HUB_BERT_HANDLES = {
    "bert_en_uncased_L-12_H-768_A-12": (f"{_TFHUB}/bert_en_uncased_L-12_H-768_A-12/4", _UNCASED_PREPROCESS),
    "bert_en_cased_L-12_H-768_A-12": (f"{_TFHUB}/bert_en_cased_L-12_H-768_A-12/4", _CASED_PREPROCESS),
    "bert_en_uncased_L-24_H-1024_A-16": (f"{_TFHUB}/bert_en_uncased_L-24_H-1024_A-16/4", _UNCASED_PREPROCESS),
    "bert_en_cased_L-24_H-1024_A-16": (f"{_TFHUB}/bert_en_cased_L-24_H-1024_A-16/4", _CASED_PREPROCESS),
    "bert_zh_L-12_H-768_A-12": (f"{_TFHUB}/bert_zh_L-12_H-768_A-12/4", f"{_TFHUB}/bert_zh_preprocess/3"),
    "bert_multi_cased_L-12_H-768_A-12": (
        f"{_TFHUB}/bert_multi_cased_L-12_H-768_A-12/4", f"{_TFHUB}/bert_multi_cased_preprocess/3"),
}
# The 24 small BERTs (Turc et al., 2019): L layers, H hidden, A = H / 64 heads.
for _layers in (2, 4, 6, 8, 10, 12):
    for _hidden in (128, 256, 512, 768):
        _name = f"small_bert/bert_en_uncased_L-{_layers}_H-{_hidden}_A-{_hidden // 64}"
        TF_HUB_BERT_HANDLES[_name] = (f"{_TFHUB}/{_name}/2", _UNCASED_PREPROCESS)


_KAGGLE_HANDLE = re.compile(r"^[\w.-]+/[\w.-]+/tensorflow2/[\w.-]+(/\d+)?$", re.IGNORECASE)


def kaggle_address(handle):
    """The address tensorflow_hub downloads a Kaggle model handle from; other sources come back unchanged.

    Example:
    >>> kaggle_address("tensorflow/bert/tensorFlow2/en-uncased-l-12-h-768-a-12/3")
    'https://www.kaggle.com/models/tensorflow/bert/tensorFlow2/en-uncased-l-12-h-768-a-12/3'
    """
    return f"https://www.kaggle.com/models/{handle}" if _KAGGLE_HANDLE.match(handle) else handle


def is_tf_hub_source(source):
    """Whether `source` names a TF-Hub encoder: a known name, a tfhub.dev/Kaggle address or handle, a SavedModel dir."""
    return (
        source in TF_HUB_BERT_HANDLES
        or kaggle_address(source).startswith(
            ("https://tfhub.dev/", "https://www.kaggle.com/models/", "https://kaggle.com/models/"))
        or os.path.isfile(os.path.join(source, "saved_model.pb"))
    )


def resolve_tf_hub_handles(source, preprocess=None):
    """Returns (encoder handle, preprocess handle) for a short name or an address.

    Raises:
        ValueError: if `source` is not a known name and no preprocess handle is given.
    """
    if source in TF_HUB_BERT_HANDLES:
        encoder, default_preprocess = TF_HUB_BERT_HANDLES[source]
        return encoder, preprocess or default_preprocess
    source, preprocess = kaggle_address(source), preprocess and kaggle_address(preprocess)
    if not preprocess:
        raise ValueError(
            f"TF-Hub encoder {source!r} needs its matching preprocess model: set `preprocess` "
            "(a handle or directory), or use one of the names in tfllm.backbones.TF_HUB_BERT_HANDLES."
        )
    return source, preprocess


def load_tf_hub_saved_model(handle):
    """Loads a TF-Hub SavedModel from a local directory or, through tensorflow_hub, from an address."""
    if os.path.isdir(handle):
        path = handle
    else:
        import tensorflow_hub as hub

        try:
            path = hub.resolve(handle)
        except Exception as error:  # network and cache errors come in many types
            raise OSError(f"could not download TF-Hub model {handle!r}: {error}") from error
    import tensorflow as tf

    return tf.saved_model.load(path), path
