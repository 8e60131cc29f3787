import csv
import json

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from conftest import bert_job_config, sentiment_examples
from tfllm import runner
from tfllm.configs.job import load_config
from tfllm.models.text_classifier import TextClassifier
from tfllm.training.precision import cpu_has_bfloat16, resolve_precision
from tfllm.training.run_files import model_dir

NO_GPU = not tf.config.list_physical_devices("GPU")


def test_training_settings_are_checked(tmp_path):
    with pytest.raises(ValueError, match="precision must be one of float32, mixed_bfloat16, mixed_float16, auto"):
        resolve_precision("bf16")
    config = tmp_path / "job.yaml"
    config.write_text(json.dumps({"name": "job", "data": {"train": "t.csv"}, "training": {"precision": "fp16"}}))
    with pytest.raises(ValueError, match=r"job.yaml: training.precision: must be one of .* not 'fp16'"):
        load_config(str(config))
    config.write_text(json.dumps({"name": "job", "data": {"train": "t.csv"}, "training": {"backup_every_steps": 0}}))
    with pytest.raises(ValueError, match=r"job.yaml: training.backup_every_steps: must be at least 1"):
        load_config(str(config))
    config.write_text(json.dumps({"name": "job", "data": {"train": "t.csv"}, "training": {"steps_per_execution": 0}}))
    with pytest.raises(ValueError, match=r"job.yaml: training.steps_per_execution: must be at least 1, not 0"):
        load_config(str(config))


@pytest.mark.skipif(not NO_GPU, reason="checks the CPU-only answers")
def test_auto_and_float16_on_a_cpu():
    with pytest.raises(ValueError, match="mixed_float16 needs a GPU"):
        resolve_precision("mixed_float16")
    assert resolve_precision("auto") == ("mixed_bfloat16" if cpu_has_bfloat16() else "float32")


def _write_sentiment_csv(path, examples):
    with open(path, "w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["text", "label"])
        writer.writerows((e.text, e.label) for e in examples)


def _encoder(classifier):
    return next(layer for layer in classifier.layers if isinstance(layer, keras_hub.models.BertBackbone))


def test_mixed_bfloat16_job_trains_in_bfloat16_and_loads_in_float32(tmp_path, keras_hub_preset_dir):
    _write_sentiment_csv(tmp_path / "train.csv", sentiment_examples(192))
    _write_sentiment_csv(tmp_path / "dev.csv", sentiment_examples(48, seed=4))
    config = load_config(str(bert_job_config(
        tmp_path, "mixed", "text_classification", keras_hub_preset_dir, 16,
        {"train": "train.csv", "validation": "dev.csv"}, {"epochs": 4, "precision": "mixed_bfloat16",
                                                          "early_stopping_patience": None}, {"pooling": "mean"})))
    trained = runner.train(config, verbose=0)
    encoder = _encoder(trained)
    assert encoder.compute_dtype == "bfloat16" and encoder.variable_dtype == "float32"
    assert trained.get_layer("logits").compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # the policy is the job's, not the process's
    losses = json.load(open(tmp_path / "run" / "history.json"))["loss"]
    assert losses[-1] < 0.7 * losses[0]

    loaded = TextClassifier.load(model_dir(config))  # as `tfllm export` and `evaluate` load it
    assert _encoder(loaded).compute_dtype == "float32"
    examples = sentiment_examples(32, seed=9)
    bfloat16, float32 = trained.predict_probabilities(examples), loaded.predict_probabilities(examples)
    assert bfloat16.dtype == float32.dtype == np.float32
    np.testing.assert_allclose(bfloat16, float32, atol=0.05)  # bfloat16 keeps 8 bits of mantissa
    assert (bfloat16.argmax(-1) == float32.argmax(-1)).mean() >= 0.9
