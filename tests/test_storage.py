"""Jobs whose run_dir and export root are tf.io.gfile paths: gs:// in real jobs, file:// URLs here.

A file:// URL takes the same code path as gs:// (in tfllm, Keras and KerasHub: anything with a scheme is
remote), on a file system that behaves like a real one. TensorFlow's ram:// does not: a rewritten file
keeps its old bytes in front of the new ones.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from conftest import sentiment_examples
from tfllm import storage
from tfllm.cli import main


@pytest.fixture()
def bucket(tmp_path):
    return f"file://{tmp_path}/bucket"


def test_a_job_on_a_bucket_path_writes_and_reads_everything_there(keras_hub_preset_dir, bucket, tmp_path,
                                                                   monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    with open("train.csv", "w") as f:
        f.write("text,label\n" + "".join(f"{e.text},{e.label}\n" for e in sentiment_examples(128)))
    with open("dev.csv", "w") as f:
        f.write("text,label\n" + "".join(f"{e.text},{e.label}\n" for e in sentiment_examples(32, seed=5)))
    run_dir, export_root = f"{bucket}/runs/sentiment", f"{bucket}/models"
    with open("job.yaml", "w") as f:
        f.write(f"""
name: sentiment
run_dir: {run_dir}
backbone: {{source: {keras_hub_preset_dir}, sequence_length: 16}}
data: {{train: train.csv, validation: dev.csv}}
model: {{pooling: mean}}
training: {{epochs: 5, batch_size: 16, learning_rate: 3.0e-3, backup_every_steps: 2, steps_per_execution: 2}}
export: {{root: {export_root}}}
""")
    assert main(["train", "job.yaml"]) == 0
    assert main(["evaluate", "job.yaml"]) == 0
    assert main(["export", "job.yaml"]) == 0

    assert sorted(os.listdir(".")) == ["dev.csv", "job.yaml", "train.csv"]  # nothing written locally
    for written in ("history.json", "checkpoints/best.weights.h5", "checkpoints/best.weights.h5.json",
                    "model/tfllm.json", "model/model.weights.h5", "model/assets/vocabulary.txt",
                    "evaluation/validation/report.json", "evaluation/validation/confusion_matrix.png"):
        assert storage.exists(f"{run_dir}/{written}"), written
    assert tf.io.gfile.listdir(f"{run_dir}/tensorboard")
    assert not storage.exists(f"{run_dir}/backup")  # the finished run removed its backup
    assert len(storage.read_json(f"{run_dir}/history.json")["loss"]) == 5
    assert storage.read_json(f"{run_dir}/evaluation/validation/report.json")["accuracy"] > 0.8

    assert tf.io.gfile.listdir(f"{export_root}/sentiment") == ["1"]  # no staging left beside the version
    assert f'base_path: "{export_root}/sentiment"' in storage.read_text(f"{export_root}/models.config")
    served = tf.saved_model.load(f"{export_root}/sentiment/1").signatures["serving_default"]
    labels = served(text=tf.constant(["the movie was good", "awful plot"]))["label_names"].numpy()
    assert labels.tolist() == [b"positive", b"negative"]


def test_a_remote_export_uploads_saved_model_pb_last_and_removes_a_failed_upload(bucket, monkeypatch):
    def stage(directory):
        os.makedirs(os.path.join(directory, "variables"))
        for name in ("saved_model.pb", "fingerprint.pb", "variables/variables.index"):
            with open(os.path.join(directory, name), "w") as f:
                f.write(name)

    copied, copy = [], tf.io.gfile.copy

    def recording_copy(source, target, overwrite=False):
        copied.append(target)
        copy(source, target, overwrite)

    monkeypatch.setattr(tf.io.gfile, "copy", recording_copy)
    with storage.published_directory(f"{bucket}/m/1") as staging:
        stage(staging)
    assert copied[-1] == f"{bucket}/m/1/saved_model.pb" and len(copied) == 3
    assert storage.read_text(f"{bucket}/m/1/variables/variables.index") == "variables/variables.index"

    def failing_copy(source, target, overwrite=False):
        if target.endswith("saved_model.pb"):
            raise tf.errors.UnavailableError(None, None, "connection reset")
        copy(source, target, overwrite)

    monkeypatch.setattr(tf.io.gfile, "copy", failing_copy)
    with pytest.raises(tf.errors.UnavailableError):
        with storage.published_directory(f"{bucket}/m/2") as staging:
            stage(staging)
    assert not storage.exists(f"{bucket}/m/2")  # the part already uploaded is gone
    with pytest.raises(RuntimeError):
        with storage.published_directory(f"{bucket}/m/3") as staging:
            stage(staging)
            raise RuntimeError("the fresh-process check failed")
    assert not storage.exists(f"{bucket}/m/3")


def test_a_local_export_is_one_rename_and_a_failed_one_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with storage.published_directory(str(tmp_path / "m" / "1")) as staging:
            np.save(os.path.join(staging, "half.npy"), np.zeros(3))
            raise RuntimeError("the fresh-process check failed")
    assert os.listdir(tmp_path / "m") == []
    with storage.published_directory(str(tmp_path / "m" / "1")) as staging:
        np.save(os.path.join(staging, "whole.npy"), np.zeros(3))
    assert os.listdir(tmp_path / "m") == ["1"] and os.listdir(tmp_path / "m" / "1") == ["whole.npy"]
