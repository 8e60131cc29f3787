"""One save format for every task model: a preset-style directory of config, weights and assets.

    tfllm.json         {"format_version": 2, "model": class name, "config": model.get_config(), "weights": file}
    model.weights.h5   the weights (GPT-2: the backbone's; LoRA models: only the adapters, adapter.lora.h5)
    assets/            the files the config names (vocabularies), written relative to the directory

GPT-2 and masked-LM directories are KerasHub presets as well (config.json, tokenizer.json), so
KerasHub and `backbone.source` read them. `load` is `from_config` and then the weights, as in
KerasHub's `from_preset`. Directories written by tfllm 0.1 (format 1: a flat tfllm.json) still load.
"""

import json
import os

import tensorflow as tf

from tfllm import storage

FORMAT_VERSION = 2
CONFIG_FILE, WEIGHTS_FILE = "tfllm.json", "model.weights.h5"
ASSET_KEYS = ("wordpiece_vocabulary", "vocabulary", "merges")  # config keys whose values are files in assets/

# Format 1 named the model by its task.
_FORMAT_1_MODELS = {"text_classification": "TextClassifier", "token_classification": "TokenClassifier",
                    "question_answering": "SpanExtractor", "masked_lm": "MaskedLM", "causal_lm": "CausalLM"}


class TaskFiles:
    """A mixin (before `keras.Model` in the bases): `save_to_dir` and `load` in the one format.

    A model defines `get_config()` (JSON, asset files as paths) and `from_config(config)`, and, where they
    differ from the defaults (asset files copied into assets/; the whole model's Keras weights in
    model.weights.h5), `write_assets(local)` (returns the config to record), `write_weights(local)`
    (returns the weights file's name) and `read_weights(path)`.
    """

    def save_to_dir(self, directory):
        """Writes config, weights and assets to `directory` (any `tf.io.gfile` path); `load` restores the model."""
        with storage.local_directory(directory) as local:
            config = self.write_assets(local)
            weights = self.write_weights(local)
            with open(os.path.join(local, CONFIG_FILE), "w") as f:
                json.dump({"format_version": FORMAT_VERSION, "model": type(self).__name__, "config": config,
                           "weights": weights}, f, indent=2, ensure_ascii=False)

    def save(self, filepath, *args, **kwargs):
        """Refused, naming the way that works: Keras would write a .keras file that `keras.models.load_model`
        cannot read back (it holds neither the tokenizer's vocabulary nor the task classes)."""
        name = type(self).__name__
        raise NotImplementedError(f"a {name} saves as a directory: model.save_to_dir(directory) writes it and "
                                  f"tfllm.{name}.load(directory) reads it back (not {filepath}: Keras's .keras file "
                                  "of it would not load)")

    @classmethod
    def load(cls, directory):
        """Restores a model written by `save_to_dir`."""
        config, weights = read_model_config(directory, cls.__name__)
        model = cls.from_config(config)
        if weights:
            model.read_weights(weights)
        return model

    def write_assets(self, local):
        """The config to record, its files (ASSET_KEYS) copied into `local`/assets and named relative to it."""
        config = self.get_config()
        _relocate_assets(config, local)
        return config

    def write_weights(self, local):
        self.save_weights(os.path.join(local, WEIGHTS_FILE))
        return WEIGHTS_FILE

    def read_weights(self, path):
        self.load_weights(path)


def read_model_config(directory, model_class):
    """(config with asset paths inside `directory`, weights path or None) of a `model_class` directory."""
    path = storage.join(directory, CONFIG_FILE)
    if not storage.exists(path):
        raise FileNotFoundError(f"{path}: no such file; is {directory} a model written by tfllm train?")
    saved = storage.read_json(path)
    version = saved.get("format_version", 1)
    if version > FORMAT_VERSION:
        raise ValueError(f"{path}: written in model format {version} by a newer tfllm; this one reads formats "
                         f"1..{FORMAT_VERSION}: pip install -U tfllm")
    if version == 1:
        saved = _upgrade_format_1(saved, directory)
    if saved["model"] != model_class:
        raise ValueError(f"{path}: a {saved['model']} model, not a {model_class}; load it with "
                         f"{saved['model']}.load")
    config = _resolve_assets(saved["config"], directory)
    return config, storage.join(directory, saved["weights"]) if saved["weights"] else None


def _relocate_assets(config, local):
    """Copies the files `config` names (ASSET_KEYS) into `local`/assets and points the config at the copies."""
    for key, value in list(config.items()):
        if isinstance(value, dict):
            _relocate_assets(value, local)
        elif key in ASSET_KEYS and isinstance(value, str):
            relative = f"assets/{os.path.basename(value)}"
            if not os.path.exists(os.path.join(local, relative)):
                os.makedirs(os.path.join(local, "assets"), exist_ok=True)
                tf.io.gfile.copy(value, os.path.join(local, relative))
            config[key] = relative


def _resolve_assets(config, directory):
    return {key: _resolve_assets(value, directory) if isinstance(value, dict) else
            storage.join(directory, value) if key in ASSET_KEYS and isinstance(value, str) else value
            for key, value in config.items()}


def _adapter_rank(path):
    """The rank of a KerasHub LoRA adapter file (`Backbone.save_lora_weights`)."""
    from keras.src.saving.saving_lib import H5IOStore  # the store KerasHub writes adapters with

    store = H5IOStore(path, mode="r")
    try:
        return int(store.get("lora")["rank"][()])
    finally:
        store.close()


def _upgrade_format_1(saved, directory):
    """Format 1's flat tfllm.json as format 2: the same facts, under "config"."""
    model = _FORMAT_1_MODELS[saved.get("task", "text_classification")]
    if model == "CausalLM":
        config = {"chat": saved.get("chat", False), "prompt_format": saved.get("prompt_format"),
                  "lora_base": saved.get("lora_base")}
        if config["lora_base"]:
            config["lora_rank"] = _adapter_rank(storage.join(directory, "adapter.lora.h5"))
        else:  # the directory is a KerasHub preset
            config["backbone"] = storage.read_json(storage.join(directory, "config.json"))
            config["tokenizer"] = {"vocabulary": "assets/tokenizer/vocabulary.json",
                                   "merges": "assets/tokenizer/merges.txt"}
        weights = "adapter.lora.h5" if config["lora_base"] else WEIGHTS_FILE
        return {"model": model, "config": config, "weights": weights}
    if model == "MaskedLM":  # a KerasHub preset and the whole model's weights beside it
        native = storage.read_json(storage.join(directory, "config.json"))
        native["config"].pop("dtype", None)
        tokenizer = storage.read_json(storage.join(directory, "tokenizer.json"))["config"]
        backbone = {"layer": {"native": native}, "sequence_length": saved["sequence_length"],
                    "tokenizer": {"wordpiece_vocabulary": "assets/tokenizer/vocabulary.txt",
                                  "lowercase": tokenizer.get("lowercase", True)}}
        config = {key: saved[key] for key in ("max_predictions", "whole_word", "mask_rate", "next_sentence")}
        return {"model": model, "config": {"backbone": backbone, **config}, "weights": "masked_lm.weights.h5"}
    # Format 1 kept the vocabulary beside tfllm.json, under the name its tokenizer entry gives.
    backbone = {"layer": saved["backbone"], "tokenizer": saved["tokenizer"], "sequence_length": saved["sequence_length"]}
    head = {key: value for key, value in saved.items() if key not in ("task", "tokenizer", "backbone",
                                                                     "sequence_length")}
    return {"model": model, "config": {"backbone": backbone, **head}, "weights": WEIGHTS_FILE}
