import glob
import io
import json
import os
import re
import subprocess
import sys
import warnings

import keras
import pytest
import tensorflow as tf
import yaml

from conftest import run_tfllm, sentiment_examples
from tfllm.cli import main
from tfllm.configs.job import load_config


@pytest.fixture()
def job(tmp_path, keras_hub_preset_dir):
    with open(tmp_path / "train.csv", "w") as f:
        f.write("review,sentiment\n" + "".join(f"{e.text},{e.label}\n" for e in sentiment_examples(128)))
    with open(tmp_path / "dev.csv", "w") as f:
        f.write("review,sentiment\n" + "".join(f"{e.text},{e.label}\n" for e in sentiment_examples(48, seed=5)))
    config = tmp_path / "job.yaml"
    config.write_text(f"""
name: sentiment
run_dir: {tmp_path / 'run'}
backbone: {{source: {keras_hub_preset_dir}, sequence_length: 16}}
data: {{train: train.csv, validation: dev.csv, text_column: review, label_column: sentiment}}
model: {{pooling: mean}}
training: {{epochs: 5, batch_size: 16, learning_rate: 3.0e-3}}
export: {{root: {tmp_path / 'savedmodels'}}}
""")
    return str(config), tmp_path


def test_train_evaluate_predict_export(job, capsys, monkeypatch, keras_hub_preset_dir):
    config, tmp_path = job
    rows = open(tmp_path / "dev.csv").read().splitlines()
    open(tmp_path / "dev.csv", "w").write("\n".join([rows[0] + ",language"] + [
        row + (",zh" if re.search("[好电影]", row) else ",en") for row in rows[1:]]) + "\n")
    # The files' labels are codes, and data.label_names gives the names the model is trained on and serves.
    for name in ("train.csv", "dev.csv"):
        text = open(tmp_path / name).read()
        open(tmp_path / name, "w").write(text.replace(",negative", ",2").replace(",positive", ",1"))
    text = open(config).read()
    open(config, "w").write(text.replace("label_column: sentiment}",
                                         "label_column: sentiment, label_names: {1: positive, 2: negative}}"))
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        assert main(["train", config]) == 0
    assert not [w.message for w in warned if "shuffle" in str(w.message)]  # the dataset shuffles itself, quietly
    # The checkpoint kept is the best by the task's main metric (accuracy), and the run says which it was.
    history = json.load(open(tmp_path / "run" / "history.json"))
    kept = json.load(open(tmp_path / "run" / "checkpoints" / "best.weights.h5.json"))
    assert kept["monitor"] == "val_accuracy" and kept["best"] == pytest.approx(max(history["val_accuracy"]))
    trained = capsys.readouterr().out
    # (of the epochs run: early stopping may end the run before training.epochs)
    assert f"kept the weights of epoch {kept['epoch']} of {len(history['loss'])}: the best val_accuracy" in trained
    # Output that is not a terminal gets one line per epoch, not a progress bar's carriage returns.
    assert "\r" not in trained and trained.count("Epoch ") == len(history["loss"])
    assert "training 5 epoch(s) of 8 steps; a line per epoch (the output is not a terminal)" in trained
    recorded = yaml.safe_load(open(tmp_path / "run" / "config.yaml"))
    assert recorded["backbone"]["source"] == keras_hub_preset_dir and recorded["training"]["epochs"] == 5
    # After training, the run's recorded settings define the model, whatever the file says now.
    text = open(config).read()
    open(config, "w").write(text.replace(f"source: {keras_hub_preset_dir}", "source: /edited/after/training"))
    capsys.readouterr()
    assert main(["evaluate", config, "--set", "data.group_column=language"]) == 0
    evaluated = capsys.readouterr()
    assert "differs from the config" in evaluated.err
    report = json.load(open(tmp_path / "run" / "evaluation" / "validation" / "report.json"))
    assert report["accuracy"] > 0.8 and set(report["per_class"]) == {"negative", "positive"}
    # Scores per group (data.group_column): every example in one group, the groups adding up to the whole.
    groups = report["groups"]
    assert set(groups) == {"en", "zh"} and sum(group["examples"] for group in groups.values()) == 48
    assert sum(g["accuracy"] * g["examples"] for g in groups.values()) == pytest.approx(report["accuracy"] * 48)
    assert f"language zh: accuracy: {groups['zh']['accuracy']:.4f}" in evaluated.out
    # Served answers take minutes on large sets: a progress line (a bar on a terminal), not silence.
    assert re.search(r"^48/48 - \d+s - .*/example$", evaluated.out, re.M) and "\r" not in evaluated.out
    # Every scored row, to read which ones were wrong: its place in the file, the served answer and the gold label.
    predictions = tmp_path / "run" / "evaluation" / "validation" / "predictions.jsonl"
    predicted = [json.loads(line) for line in open(predictions)]
    assert len(predicted) == 48 and predicted[0]["source"].endswith(":2")
    assert sum(row["label"] == row["gold"] for row in predicted) == pytest.approx(report["accuracy"] * 48)
    assert (tmp_path / "run" / "evaluation" / "validation" / "confusion_matrix.png").stat().st_size > 1000
    # Another labeled file gets its own report; the validation one, which exports carry, stays.
    (tmp_path / "other.csv").write_text("review,sentiment\nthe movie was good,1\nawful plot,2\n")
    assert main(["evaluate", config, "--data", str(tmp_path / "other.csv")]) == 0
    other = json.load(open(tmp_path / "run" / "evaluation" / "data_other" / "report.json"))
    assert other["examples"] == 2 and other["data"].endswith("other.csv")
    assert json.load(open(tmp_path / "run" / "evaluation" / "validation" / "report.json")) == report
    assert os.listdir(tmp_path / "run" / "tensorboard")
    capsys.readouterr()
    assert main(["predict", config, "--text", "the movie was good", "--text", "awful plot"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [row["label"] for row in rows] == ["positive", "negative"]
    assert list(rows[0]["probabilities"]) == ["positive", "negative"]  # the order label_names gives
    # Texts to label need only the text column: no label, and no data.group_column (it only splits reports).
    (tmp_path / "texts.csv").write_text("review\nthe movie was good\n")
    assert main(["predict", config, "--input", str(tmp_path / "texts.csv"), "--set", "data.group_column=language"]) == 0
    assert json.loads(capsys.readouterr().out)["label"] == "positive"
    # Standard input: an answer per line, blank and Windows-ended lines too, so answers line up with lines.
    monkeypatch.setattr("sys.stdin", io.StringIO("the movie was good\r\n\nawful plot\n"))
    assert main(["predict", config]) == 0
    assert [json.loads(line)["text"] for line in capsys.readouterr().out.splitlines()] == [
        "the movie was good", "", "awful plot"]
    # A file and texts at once (the texts were ignored), or a directory as the file, are refused by name.
    assert main(["predict", config, "--input", str(tmp_path / "texts.csv"), "--text", "good"]) == 2
    assert "give it or --text, not both" in capsys.readouterr().err
    assert main(["predict", config, "--input", str(tmp_path)]) == 2
    assert f"{tmp_path} is a directory; name a data file" in capsys.readouterr().err
    # int8 backbone weights: scored beside the float model, exported (and checked in a fresh process) as int8.
    assert main(["evaluate", config, "--quantize", "int8"]) == 0
    int8_report = json.load(open(tmp_path / "run" / "evaluation" / "validation_int8" / "report.json"))
    assert int8_report["quantize"] == "int8" and abs(int8_report["accuracy"] - report["accuracy"]) <= 0.1
    capsys.readouterr()
    assert main(["export", config, "--quantize", "int8", "--set", f"export.root={tmp_path / 'exports'}"]) == 0
    exported = capsys.readouterr().out
    said = exported.splitlines()  # what the minutes of saving and checking are, before they start
    assert said[0] == "saving the serving signatures, then checking their answers in a fresh process ..."
    assert "fresh-process check (tensorflow + tensorflow_text only): outputs match" in said[1]
    assert "SavedModel for TF Serving" in said[2]
    version = tmp_path / "exports" / "sentiment" / "1"
    metadata = json.load(open(version / "assets.extra" / "tfllm_metadata.json"))
    assert metadata["backbone"] == keras_hub_preset_dir and metadata["labels"] == ["positive", "negative"]
    assert metadata["quantize"] == "int8" and metadata["validation"]["accuracy"] == report["accuracy"]
    dtypes = tf.train.load_checkpoint(str(version / "variables" / "variables")).get_variable_to_dtype_map()
    assert tf.int8 in dtypes.values()
    # A version that exists is never overwritten: said in a line, as other input errors are (it was a traceback).
    assert main(["export", config, "--version", "1", "--set", f"export.root={tmp_path / 'exports'}"]) == 2
    assert f"tfllm export: error: {version} exists; a published version is never overwritten (choose another " \
           "version, or none for the next one)" in capsys.readouterr().err
    # Training again replaces the model: its reports go with it (an export carried the old model's scores).
    source = f"backbone.source={keras_hub_preset_dir}"  # the file's was edited above
    assert main(["train", config, "--set", "training.epochs=1", "--set", source]) == 0
    retrained = capsys.readouterr().out
    assert f"removed {tmp_path / 'run' / 'evaluation'}: its reports were of the model this run replaces" in retrained
    # and its TensorBoard logs, which TensorBoard drew as one run with the new ones
    assert f"removed {tmp_path / 'run' / 'tensorboard'}: the TensorBoard logs of the run this one replaces" in retrained
    assert len(os.listdir(tmp_path / "run" / "tensorboard" / "train")) == 1
    assert main(["export", config, "--set", f"export.root={tmp_path / 'exports'}"]) == 0
    assert "note: the export carries no validation scores" in capsys.readouterr().out
    assert "validation" not in json.load(open(version.parent / "2" / "assets.extra" / "tfllm_metadata.json"))


def test_tasks_lists_every_task_and_its_keys(capsys):
    assert main(["tasks"]) == 0
    out = capsys.readouterr().out
    assert "token_classification (tfllm train)" in out and "masked_lm (tfllm pretrain)" in out
    assert main(["tasks", "question_answering"]) == 0
    out = capsys.readouterr().out
    assert "model.doc_stride = 128" in out and "model.pooling" not in out


def test_config_errors_name_the_file_and_key(job, capsys):
    config, tmp_path = job
    bad = tmp_path / "bad.yaml"
    bad.write_text(open(config).read().replace("epochs: 5", "epocs: 5"))
    assert main(["train", str(bad)]) == 2
    assert f"{bad}: training: unknown key(s) ['epocs']" in capsys.readouterr().err
    assert main(["train", config, "--set", "training.epochs=zero"]) == 2
    assert "training.epochs: expected a whole number, got 'zero'" in capsys.readouterr().err


def test_data_limit_reads_only_the_first_rows(job):
    from tfllm.runner import task_of

    config, tmp_path = job
    limited = tmp_path / "limited.yaml"
    limited.write_text(open(config).read().replace("label_column: sentiment}", "label_column: sentiment, limit: 10}"))
    loaded = load_config(str(limited))
    examples = task_of(loaded).read(loaded, loaded.data.train)
    assert [e.text for e in examples] == [e.text for e in sentiment_examples(10)]


def test_training_says_how_many_texts_are_longer_than_sequence_length(job, capsys):
    from tfllm.runner import task_of

    config, tmp_path = job
    with open(tmp_path / "train.csv", "a") as f:
        f.write(" ".join(["the movie was good"] * 10) + ",positive\n")  # 40 words: 42 tokens with [CLS] and [SEP]
    for changes, said in (([], "data.train: 1 of 129 texts (0.8%) are longer than backbone.sequence_length 16 (the "
                                "longest: 42 tokens) and are cut to it; raise backbone.sequence_length, or set "
                                "model.long_text"),
                          (["model.long_text=mean"], "")):  # windows read it whole: nothing is cut
        loaded = load_config(config, changes)
        task = task_of(loaded)
        task.bert(loaded, task.splits(loaded)[0])
        assert said in capsys.readouterr().out if said else "are cut" not in capsys.readouterr().out


def test_bad_rows_stop_training_with_their_location(job, capsys):
    config, tmp_path = job
    with open(tmp_path / "train.csv", "a") as f:
        f.write(",positive\n")
    assert main(["train", config]) == 2
    assert f"{tmp_path / 'train.csv'}:130: field 'review': empty text" in capsys.readouterr().err


def test_unknown_labels_are_bad_rows_found_before_any_model_loads(job, capsys, monkeypatch):
    from tfllm import runner
    from tfllm.tasks.text_classification import TextClassificationTask

    config, tmp_path = job
    with open(tmp_path / "dev.csv", "a") as f:
        f.write("a mixed review,neutral\n")  # line 50: a label train never shows
    monkeypatch.setattr(TextClassificationTask, "build",
                        lambda *args: pytest.fail("the model was built before the labels were checked"))
    assert main(["train", config]) == 2
    assert f"{tmp_path / 'dev.csv'}:50: field 'sentiment': unknown label(s) ['neutral']" in capsys.readouterr().err
    loaded = load_config(config, ["data.on_bad_rows=skip", "data.labels=[negative, positive]"])
    with open(tmp_path / "train.csv", "a") as f:
        f.write("another mixed one,neutral\n")
    train, validation = runner.task_of(loaded).splits(loaded)
    assert (len(train), len(validation)) == (128, 48)  # each file's neutral row left out, and counted:
    printed = capsys.readouterr().out
    assert "train.csv: skipped 1 row(s) with unknown labels" in printed and "dev.csv: skipped 1 row(s)" in printed


def test_a_missing_column_is_named_in_the_training_file_first_with_no_advice_to_skip(job, capsys):
    config, tmp_path = job  # neither file has the column; skipping rows cannot mend a header
    assert main(["train", config, "--set", "data.group_column=language", "--set", "data.on_bad_rows=skip"]) == 2
    error = capsys.readouterr().err
    assert f"{tmp_path / 'train.csv'}:1: field 'language': no such column; the header has ['review', 'sentiment']" in error
    assert "dev.csv" not in error and "on_bad_rows" not in error


def test_a_resumed_run_keeps_the_tensorboard_logs_of_its_first_epochs(job, capsys, monkeypatch):
    from tfllm import runner

    class Interrupt(keras.callbacks.Callback):  # as a kill after the first epoch's backup
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                raise KeyboardInterrupt

    config, tmp_path = job
    real_fit = runner.resumable_fit
    monkeypatch.setattr(runner, "resumable_fit", lambda model, make, epochs, backup, validation, callbacks, *rest:
                        real_fit(model, make, epochs, backup, validation, [*callbacks, Interrupt()], *rest))
    with pytest.raises(KeyboardInterrupt):
        main(["train", config, "--set", "training.epochs=3"])
    monkeypatch.setattr(runner, "resumable_fit", real_fit)
    capsys.readouterr()
    assert main(["train", config, "--set", "training.epochs=3"]) == 0
    assert "removed" not in capsys.readouterr().out
    events = tf.compat.v1.train.summary_iterator
    steps = {event.step for path in glob.glob(str(tmp_path / "run" / "tensorboard" / "train" / "*"))
             for event in events(path) for value in event.summary.value if value.tag == "epoch_loss"}
    assert steps == {0, 1, 2}


def test_an_interrupted_run_resumes_only_with_the_settings_it_started_with(job, capsys):
    from tfllm.configs.job import record_config, settings_changed_since_start

    config, tmp_path = job
    record_config(load_config(config))  # what `tfllm train` records before its first batch,
    (tmp_path / "run" / "backup").mkdir()  # and the backup a killed run leaves
    assert settings_changed_since_start(load_config(config)) == []
    # Where and in what groups the batches run may change; the export's name too.
    moved = ["training.backup_every_steps=50", "training.steps_per_execution=4", "name=other"]
    assert settings_changed_since_start(load_config(config, moved)) == []
    assert main(["train", config, "--set", "training.learning_rate=1e-3", "--set", "data.validation=train.csv"]) == 2
    error = capsys.readouterr().err
    assert "holds an interrupted run started with other data.validation, training.learning_rate: train with the " \
           f"settings it started with to resume it, or delete {tmp_path / 'run' / 'backup'} to start over" in error


def test_a_training_file_of_one_label_is_refused_before_any_model_loads(job, capsys, monkeypatch):
    from tfllm.tasks.text_classification import TextClassificationTask

    config, tmp_path = job  # as when label_column names a column that holds one value
    rows = open(tmp_path / "train.csv").read().splitlines()
    open(tmp_path / "train.csv", "w").write("\n".join([rows[0]] + [r for r in rows[1:] if r.endswith(",positive")]))
    monkeypatch.setattr(TextClassificationTask, "build", lambda *args: pytest.fail("a model was built"))
    assert main(["train", config, "--set", "data.validation=train.csv"]) == 2
    assert "data.train's column 'sentiment' holds one label, 'positive': a single-label classifier chooses among " \
           "two or more (model.multi_label: true makes a yes/no detector of one)" in capsys.readouterr().err


def test_a_multi_label_file_whose_label_holds_a_comma_is_refused_before_any_model_loads(job, capsys, monkeypatch):
    from tfllm.tasks.text_classification import TextClassificationTask

    config, tmp_path = job  # served, "arts, culture|sports" would join to "arts, culture,sports": three labels
    rows = open(tmp_path / "train.csv").read().splitlines()
    open(tmp_path / "train.csv", "w").write("\n".join(rows + ['a fine film,"arts, culture|positive"']))
    monkeypatch.setattr(TextClassificationTask, "build", lambda *args: pytest.fail("a model was built"))
    assert main(["train", config, "--set", "model.multi_label=true", "--set", "data.validation=train.csv"]) == 2
    assert "data.train's column 'sentiment' holds the label 'arts, culture', which holds \",\", which separates " \
           "the labels of a multi-label answer (label_names); data.label_names can name it otherwise" \
           in capsys.readouterr().err


def test_the_command_hides_tensorflows_native_start_up_logs_unless_asked(tmp_path):
    # convert imports TensorFlow (whose C++ runtime logs CUDA probes and CPU features) before it fails.
    command = [sys.executable, "-m", "tfllm.cli", "convert", str(tmp_path / "missing"), "--output", str(tmp_path / "o")]
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    quiet = subprocess.run(command, capture_output=True, text=True, env=env)
    assert quiet.returncode == 2 and quiet.stderr.startswith("tfllm convert: error: "), quiet.stderr
    verbose = subprocess.run(command + ["--verbose"], capture_output=True, text=True, env=env)
    assert verbose.returncode == 2 and verbose.stderr.endswith(quiet.stderr)
    native = [line for line in verbose.stderr.splitlines() if re.match(r"[IWE]\d{4} [\d:.]+ +\d+ \S+:\d+\] ", line)]
    if not native:
        pytest.skip("TensorFlow logs nothing natively at start-up on this machine: nothing to hide")


@pytest.mark.parametrize("args", [("export", "job.yaml", "--version", "0"), ("export", "job.yaml", "--version", "-3"),
                                  ("convert", "preset", "--output", "hub", "--seq-length", "0")])
def test_counts_and_versions_on_the_command_line_are_whole_numbers_from_1(args):
    # --version -3 published savedmodels/<name>/-3, which TF Serving cannot load; 0 meant "the next one".
    refused = run_tfllm(*args)
    assert refused.returncode == 2 and f"{args[-2]}: expected a whole number, 1 or more, not '{args[-1]}'" in refused.stderr


def test_convert_writes_tf_hub_format(keras_hub_preset_dir, tmp_path):
    assert main(["convert", keras_hub_preset_dir, "--output", str(tmp_path / "hub")]) == 0
    from tfllm.backbones import load_bert

    bert = load_bert(str(tmp_path / "hub" / "encoder"), preprocess=str(tmp_path / "hub" / "preprocess"))
    assert type(bert.backbone).__name__ == "BertBackbone"


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "examples", "*",
                                                               "config.yaml"))))
def test_example_configs_are_valid(path):
    config = load_config(path)
    assert config.data.train and config.backbone.source


def test_a_label_code_outside_data_label_names_is_a_bad_row(job, capsys):
    config, tmp_path = job
    named = tmp_path / "named.yaml"
    named.write_text(open(config).read().replace("label_column: sentiment}", "label_column: sentiment, "
                                                 "label_names: {1: positive, 2: negative}}"))
    for name in ("train.csv", "dev.csv"):
        text = open(tmp_path / name).read()
        open(tmp_path / name, "w").write(text.replace(",negative\n", ",2\n").replace(",positive\n", ",1\n"))
    with open(tmp_path / "train.csv", "a") as f:
        f.write("the movie was good,3\n")
    assert main(["train", str(named)]) == 2
    assert f"{tmp_path / 'train.csv'}:130: field 'sentiment': unknown label(s) ['3']" in capsys.readouterr().err
