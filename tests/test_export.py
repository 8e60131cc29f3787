import json
import os

import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from tfllm.backbones import load_backbone
from tfllm.export import saved_model_export
from tfllm.export.saved_model_export import ExportError, export_for_serving
from tfllm.models.text_classifier import TextClassifier
from tfllm.models.text_classifier_serving import TextClassifierServer


@pytest.fixture(scope="module")
def server(keras_hub_preset_dir):
    return TextClassifierServer(TextClassifier(load_backbone(keras_hub_preset_dir, sequence_length=16), ["no", "yes"]))


def test_export_is_checked_in_a_fresh_process_and_published_whole(server, tmp_path):
    root = str(tmp_path / "savedmodels")
    path, report = export_for_serving(server, root, "tiny", metadata={"labels": ["no", "yes"]})
    assert path == os.path.join(root, "tiny", "1") and report["ok"] and report["foreign_modules"] == []
    assert report["outputs"] == ["label_ids", "label_names", "probabilities"]
    assert os.listdir(os.path.join(path, "assets")) == [os.path.basename(server.preprocessor.tokenizer.vocabulary_file)]
    assert json.load(open(os.path.join(path, "assets.extra", "tfllm_metadata.json")))["labels"] == ["no", "yes"]
    record = next(iter(tf.data.TFRecordDataset(os.path.join(path, "assets.extra", "tf_serving_warmup_requests"))))
    request = prediction_log_pb2.PredictionLog.FromString(record.numpy()).predict_log.request
    assert request.model_spec.name == "tiny" and list(request.inputs) == ["text"]
    assert 'name: "tiny"' in open(os.path.join(root, "models.config")).read()
    assert os.listdir(os.path.join(root, "tiny")) == ["1"]  # no staging directory left behind

    second, _ = export_for_serving(server, root, "tiny")
    assert second.endswith(os.path.join("tiny", "2"))
    with pytest.raises(ExportError, match="never overwritten"):
        export_for_serving(server, root, "tiny", version=1)


def test_failed_check_publishes_nothing(server, tmp_path, monkeypatch):
    def failing_check(*args):
        raise ExportError("outputs differ")

    monkeypatch.setattr(saved_model_export, "check_in_fresh_process", failing_check)
    root = str(tmp_path / "savedmodels")
    with pytest.raises(ExportError):
        export_for_serving(server, root, "tiny")
    assert os.listdir(os.path.join(root, "tiny")) == []


def test_fresh_process_check_catches_mismatch(server, tmp_path):
    directory = str(tmp_path / "model")
    tf.saved_model.save(server, directory, signatures={"serving_default": server.serve})
    requests = {"serving_default": {"text": tf.constant(["yes"]).numpy()}}
    with pytest.raises(ExportError, match="label_names"):
        saved_model_export.check_in_fresh_process(directory, requests, {"serving_default": {"label_names": [b"not-a-label"]}})
