"""The model directory every BERT task writes: weights, vocabulary, and a tfllm.json that rebuilds the model."""

import json
import os

import keras
import tensorflow as tf

from tfllm import storage
from tfllm.backbones.sources import Backbone
from tfllm.backbones.tf_hub_encoder import TFHubEncoder
from tfllm.backbones.tf_hub_handles import load_tf_hub_saved_model
from tfllm.backbones.tf_hub_preprocess import TFHubPreprocessTokenizer
from tfllm.text.bert_preprocessor import BertPreprocessor
from tfllm.text.wordpiece_tokenizer import WordPieceTokenizer

CONFIG_FILE, WEIGHTS_FILE, VOCABULARY_FILE = "tfllm.json", "model.weights.h5", "vocab.txt"


def save_bert_task(model, directory, task_config):
    """Writes `model`'s weights, its tokenizer and backbone recipe, and `task_config` (with a "task" key) to
    `directory` (any `tf.io.gfile` path).

    `model` has `preprocessor` (a `BertPreprocessor`) and `backbone_rebuild` (see `Backbone.rebuild`).
    """
    tokenizer = model.preprocessor.tokenizer
    with storage.local_directory(directory) as local:
        if isinstance(tokenizer, WordPieceTokenizer):
            tf.io.gfile.copy(tokenizer.vocabulary_file, os.path.join(local, VOCABULARY_FILE), overwrite=True)
            tokenizer_config = {"wordpiece_vocabulary": VOCABULARY_FILE, "lowercase": tokenizer.lowercase}
        else:
            tokenizer_config = {"tf_hub_preprocess": tokenizer.handle}
        config = {**task_config, "sequence_length": model.preprocessor.sequence_length, "tokenizer": tokenizer_config,
                  "backbone": model.backbone_rebuild}
        model.save_weights(os.path.join(local, WEIGHTS_FILE))
        with open(os.path.join(local, CONFIG_FILE), "w") as f:
            json.dump(config, f, indent=2, ensure_ascii=False)


def load_bert_task(directory, task):
    """Reads what `save_bert_task` wrote: returns (task config, `Backbone`, weights path)."""
    path = storage.join(directory, CONFIG_FILE)
    if not storage.exists(path):
        raise FileNotFoundError(f"{path}: no such file; is {directory} a model written by tfllm train?")
    config = storage.read_json(path)
    if config.get("task", "text_classification") != task:
        raise ValueError(f"{path}: a {config.get('task')} model, not {task}")
    tokenizer_config = config["tokenizer"]
    if "wordpiece_vocabulary" in tokenizer_config:
        tokenizer = WordPieceTokenizer(storage.join(directory, tokenizer_config["wordpiece_vocabulary"]),
                                       lowercase=tokenizer_config["lowercase"])
    else:
        tokenizer = TFHubPreprocessTokenizer(tokenizer_config["tf_hub_preprocess"])
    rebuild = config["backbone"]
    if "native" in rebuild:
        layer = keras.saving.deserialize_keras_object(rebuild["native"])
    else:
        layer = TFHubEncoder(load_tf_hub_saved_model(rebuild["tf_hub_encoder"])[0], rebuild["tf_hub_encoder"])
    backbone = Backbone(layer, BertPreprocessor(tokenizer, config["sequence_length"]), rebuild)
    return config, backbone, storage.join(directory, WEIGHTS_FILE)
