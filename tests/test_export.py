import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from conftest import tensorflow_log
from tfllm.backbones import load_bert
from tfllm.export import saved_model_export
from tfllm.export.saved_model_export import ExportError, export_for_serving
from tfllm.models.text_classifier import TextClassifier
from tfllm.models.text_classifier_serving import TextClassifierServer


@pytest.fixture(scope="module")
def server(keras_hub_preset_dir):
    return TextClassifierServer(TextClassifier(load_bert(keras_hub_preset_dir, sequence_length=16), ["no", "yes"]))


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

    # TF Serving often runs as another user: everything published is readable by all.
    modes = {stat.S_IMODE(os.stat(os.path.join(r, n)).st_mode) for r, ds, fs in os.walk(path) for n in ds + fs
             if os.path.isfile(os.path.join(r, n))}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755 and modes == {0o644}

    # A killed export's staging directory (its process gone) is removed by the next; a live one is not.
    stale, live = (os.path.join(root, "tiny", f".partial-2-{pid}-x") for pid in (2**22 + 1, os.getpid()))
    os.makedirs(stale), os.makedirs(live)
    second, _ = export_for_serving(server, root, "tiny")
    assert second.endswith(os.path.join("tiny", "2"))
    assert sorted(os.listdir(os.path.join(root, "tiny"))) == [".partial-2-%d-x" % os.getpid(), "1", "2"]
    with pytest.raises(FileExistsError, match="never overwritten"):
        export_for_serving(server, root, "tiny", version=1)
    for version in (0, -3, "3"):  # 0 was taken as "the next one", -3 published tiny/-3
        with pytest.raises(ValueError, match="versions are whole numbers, 1 or more"):
            export_for_serving(server, root, "tiny", version=version)


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


def test_a_killed_export_takes_its_check_process_with_it_and_leaves_no_temp_files(keras_hub_preset_dir, tmp_path):
    exporter = textwrap.dedent(f"""
        from tfllm.backbones import load_bert
        from tfllm.export.saved_model_export import export_for_serving
        from tfllm.models.text_classifier import TextClassifier
        from tfllm.models.text_classifier_serving import TextClassifierServer
        classifier = TextClassifier(load_bert({keras_hub_preset_dir!r}, sequence_length=16), ["no", "yes"])
        export_for_serving(TextClassifierServer(classifier), {str(tmp_path / "savedmodels")!r}, "tiny")
    """)
    (tmp_path / "tmp").mkdir()
    parent = subprocess.Popen([sys.executable, "-c", exporter], env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    check = None
    for _ in range(600):  # until the fresh-process check runs
        check = next((pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                      if str(tmp_path) in _command_line(pid) and "fresh_process_check" in _command_line(pid)), None)
        if check or parent.poll() is not None:
            break
        time.sleep(0.1)
    assert check, "the export ended before its check could be seen"
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(100):
        if not os.path.exists(f"/proc/{check}") or "zombie" in _status(check):
            break
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{check}") or "zombie" in _status(check)
    # The export keeps no files in the temporary directory (TensorFlow's autograph writes its generated
    # code there in every process that traces, and removes it only at a normal exit).
    assert [n for n in os.listdir(tmp_path / "tmp") if not n.startswith("__autograph_generated_file")] == []
    assert [n for n in os.listdir(tmp_path / "savedmodels" / "tiny") if not n.startswith(".partial-")] == []


def _command_line(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace")
    except OSError:
        return ""


def _status(pid):
    try:
        return open(f"/proc/{pid}/status").read()
    except OSError:
        return "zombie"


def test_a_process_serving_many_models_gets_no_retracing_warning(keras_hub_preset_dir):
    """Each server traces its graph once; TensorFlow counted all servers' traces as one function's and
    warned a notebook evaluating its fifth model of "retracing" caused by a tf.function made in a loop."""
    with tensorflow_log() as messages:
        bert = load_bert(keras_hub_preset_dir, sequence_length=16)
        for _ in range(6):
            TextClassifierServer(TextClassifier(bert, ["no", "yes"])).serve(text=tf.constant(["a film"]))
    assert not [message for message in messages if "retracing" in message]
