"""Job configs are checked by key, type and range when read, before TensorFlow is imported."""

import json
import subprocess
import sys

import pytest

from tfllm.configs.job import load_config, task_keys
from tfllm.tasks.registry import TASKS


def write(tmp_path, **sections):
    path = tmp_path / "job.yaml"
    path.write_text(json.dumps({"name": "job", "data": {"train": "t.csv"}, **sections}))
    return str(path)


@pytest.mark.parametrize("training, message", [
    ({"batch_size": "eight"}, r"training.batch_size: expected a whole number, got 'eight'"),
    ({"epochs": "1"}, r"training.epochs: expected a whole number, got '1'"),
    ({"batch_size": -4}, r"training.batch_size: must be at least 1, not -4"),
    ({"epochs": 0}, r"training.epochs: must be at least 1, not 0"),
    ({"learning_rate": "fast"}, r"training.learning_rate: expected a number, got 'fast'"),
    ({"learning_rate": 0}, r"training.learning_rate: must be more than 0.0, not 0.0"),
    ({"dropout": 1.5}, r"training.dropout: must be at most 0.9, not 1.5"),
    ({"fixed_length": "yes"}, r"training.fixed_length: expected true or false, got 'yes'"),
    ({"seed": -1}, r"training.seed: must be at least 0, not -1"),  # was Keras's "Seed must be between ..."
    ({"mask_rate": 0.2}, r"training.mask_rate: not read by task text_classification \(it is for masked_lm "
                         r"\(model.mask_rate\)\)"),
    ({"lora_rank": 4}, r"training.lora_rank: not read by task text_classification \(it is for causal_lm, chat, "
                       r"conditional_generation\)"),
])
def test_values_are_checked_naming_the_file_and_key(tmp_path, training, message):
    path = write(tmp_path, training=training)
    with pytest.raises(ValueError, match=f"job.yaml: {message}"):
        load_config(path)


@pytest.mark.parametrize("sections, message", [
    ({"model": {"thresholds": [0.5, 2]}}, r"model.thresholds: must be at most 1.0, not 2.0"),
    ({"model": {"pooling": "markers"}}, r"model.pooling: must be one of cls, mean, not 'markers'"),
    ({"data": {"train": "t.csv", "pooling": "mean"}}, r"data.pooling: task text_classification reads it as "
                                                      r"model.pooling"),
    ({"task": "causal_lm", "backbone": {"source": "scratch"}, "model": {"pooling": "mean"}},
     r"model: task causal_lm has no head settings 'model'; its sections are backbone, data, training, export, "
     r"generation"),
    ({"task": "question_answering", "data": {"train": "t.json", "format": "csv"}},
     r"data.format: not read by task question_answering \(it is for text_classification"),
])
def test_each_task_reads_its_own_sections(tmp_path, sections, message):
    with pytest.raises(ValueError, match=f"job.yaml: {message}"):
        load_config(write(tmp_path, **sections))


def test_head_keys_in_their_old_sections_are_read_from_there_with_a_note(tmp_path, capsys):
    path = write(tmp_path, data={"train": "t.csv", "multi_label": True}, training={"pooling": "mean"})
    config = load_config(path)
    assert (config.model.multi_label, config.model.pooling, config.training.monitor) == (True, "mean", "micro_f1")
    err = capsys.readouterr().err
    assert "training.pooling is read as model.pooling" in err and "data.multi_label is read as model.multi_label" in err
    with pytest.raises(ValueError, match="training.pooling and model.pooling are both set; keep model.pooling"):
        load_config(write(tmp_path, training={"pooling": "mean"}, model={"pooling": "cls"}))
    # A run recorded by tfllm 0.1 keeps its head settings, silently: the user did not write that file.
    run_dir = tmp_path / "runs" / "job"
    run_dir.mkdir(parents=True)
    (run_dir / "config.yaml").write_text(json.dumps({"name": "job", "task": "text_classification", "data": {
        "train": str(tmp_path / "t.csv"), "labels": ["a", "b"]}, "training": {"pooling": "mean", "epochs": 1}}))
    trained = load_config(write(tmp_path, run_dir=str(run_dir), model={"pooling": "mean"}), trained=True)
    assert (trained.model.labels, trained.model.pooling, trained.training.epochs) == (["a", "b"], "mean", 1)
    assert "is read as" not in capsys.readouterr().err


def test_yaml_1_1_numbers_are_the_floats_they_mean(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("name: job\ndata: {train: t.csv}\ntraining: {learning_rate: 1e-4, warmup_fraction: 5E-2}\n")
    training = load_config(str(path)).training
    assert training.learning_rate == 1e-4 and isinstance(training.learning_rate, float)
    assert training.warmup_fraction == 0.05


def test_a_key_written_twice_is_an_error_naming_both_lines(tmp_path):
    path = tmp_path / "job.yaml"  # PyYAML alone keeps the second section: epochs would silently be the default
    path.write_text("name: job\ndata: {train: t.csv}\ntraining:\n  epochs: 3\ntraining:\n  batch_size: 8\n")
    with pytest.raises(ValueError, match=r"job.yaml: not valid YAML: key 'training' is written twice \(first on "
                                         r"line 3\)\n  in .*, line 5, column 1"):
        load_config(str(path))
    path.write_text("name: job\ndata: {train: t.csv, train: u.csv}\n")
    with pytest.raises(ValueError, match=r"key 'train' is written twice \(first on line 2\)"):
        load_config(str(path))


def test_a_config_that_is_not_utf8_text_or_is_a_directory_is_named(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_bytes("# 情感分类\nname: job\ndata: {train: t.csv}\n".encode("gbk"))  # was a bare 'utf-8' codec error
    with pytest.raises(ValueError, match=r"job.yaml: not UTF-8 text \(invalid continuation byte at byte 2\); save it"):
        load_config(str(path))
    path.write_bytes("\ufeff# 情感分类\nname: job\ndata: {train: t.csv}\n".encode("utf-8"))  # a BOM is fine
    assert load_config(str(path)).name == "job"
    with pytest.raises(ValueError, match=f"{tmp_path} is a directory; name a job config"):
        load_config(str(tmp_path))


@pytest.mark.parametrize("name", ["../../x", "a/b", "", ".hidden", 7])
def test_the_name_is_one_safe_path_component(tmp_path, name):
    with pytest.raises(ValueError, match="name: .* must be one path component"):
        load_config(write(tmp_path, name=name))


def test_set_overrides_are_as_strict_as_the_file(tmp_path):
    path = write(tmp_path, training={"epochs": 5})
    config = load_config(path, ["training.epochs=1", "training.learning_rate=3e-5", "name=other",
                                "model.labels=[a, b]"])
    assert (config.training.epochs, config.training.learning_rate, config.name) == (1, 3e-5, "other")
    assert config.model.labels == ["a", "b"] and config.run_dir.endswith("other")
    for override, message in [("training.epocs=1", r"training: unknown key\(s\) \['epocs'\]"),
                              ("trainin.epochs=1", "unknown section 'trainin'"),
                              ("training.epochs", "expected section.key=value"),
                              ("training.batch_size=0", "training.batch_size: must be at least 1"),
                              ("generation.top_p=0.5", "generation: task text_classification has no section .generation.")]:
        with pytest.raises(ValueError, match=message):
            load_config(path, [override])


def test_the_monitored_metric_defaults_to_the_tasks_main_one_and_is_checked(tmp_path):
    assert load_config(write(tmp_path)).training.monitor == "accuracy"
    assert load_config(write(tmp_path, model={"multi_label": True})).training.monitor == "micro_f1"
    assert load_config(write(tmp_path, task="token_classification")).training.monitor == "entity_f1"
    assert load_config(write(tmp_path, task="question_answering")).training.monitor == "f1"
    with pytest.raises(ValueError, match="training.monitor: must be one of micro_f1, macro_f1, loss for task "
                                         r"text_classification \(multi-label\), not 'accuracy'"):
        load_config(write(tmp_path, model={"multi_label": True}, training={"monitor": "accuracy"}))
    with pytest.raises(ValueError, match="training.monitor: must be one of entity_f1, tag_accuracy, loss"):
        load_config(write(tmp_path, task="token_classification", training={"monitor": "accuracy"}))


def test_task_defaults_and_keys(tmp_path):
    relation = load_config(write(tmp_path, task="relation_extraction"))
    assert relation.data.label_column == "relation" and relation.model.pooling == "markers"
    keys = {(section, name): default for section, name, default, _ in task_keys("token_classification")}
    assert keys[("model", "tag_scheme")] == "bio" and keys[("backbone", "source")] == "all-minilm-l6-v2"
    assert ("model", "pooling") not in keys and ("generation", "top_p") not in keys
    assert ("training", "fixed_length") in keys and ("training", "lora_rank") not in keys
    assert ("generation", "top_p") in {(s, n) for s, n, _, _ in task_keys("chat")}
    with pytest.raises(ValueError, match="unknown task 'classify'; supported: text_classification"):
        load_config(write(tmp_path, task="classify"))
    assert set(TASKS) >= {"text_classification", "token_classification", "question_answering", "causal_lm",
                          "chat", "conditional_generation", "masked_lm", "relation_extraction"}


def test_a_typo_is_answered_before_tensorflow_loads(tmp_path):
    path = write(tmp_path, training={"epocs": 1})
    script = ("import sys\nfrom tfllm.cli import main\ncode = main(['train', sys.argv[1]])\n"
              "print('tensorflow' in sys.modules, code)")
    result = subprocess.run([sys.executable, "-c", script, path], capture_output=True, text=True)
    assert result.stdout.split() == ["False", "2"]
    assert "job.yaml: training: unknown key(s) ['epocs']" in result.stderr


def test_the_command_is_checked_before_the_keys_of_another_task(tmp_path):
    # A masked_lm config edited to a fine-tuning task still holds masked_lm keys; the command's error wins.
    path = write(tmp_path, task="text_classification", training={"mask_rate": 0.2})
    with pytest.raises(ValueError, match="pretrain runs task masked_lm or causal_lm, not text_classification"):
        load_config(path, command="pretrain")
    path = write(tmp_path, task="masked_lm", backbone={"source": "scratch"})
    with pytest.raises(ValueError, match="task masked_lm is pretraining: run tfllm pretrain"):
        load_config(path, command="train")
    assert load_config(path, command="pretrain").task == "masked_lm"


def test_label_names_map_codes_written_as_numbers_or_text_to_names(tmp_path):
    path = tmp_path / "codes.yaml"
    path.write_text("name: job\ndata: {train: t.csv, label_names: {1: world, '2': sports}}\n")
    assert load_config(str(path)).data.label_names == {"1": "world", "2": "sports"}
    with pytest.raises(ValueError, match=r"data.label_names: expected a mapping such as"):
        load_config(write(tmp_path, data={"train": "t.csv", "label_names": ["world", "sports"]}))
    with pytest.raises(ValueError, match=r"data.label_names.1: expected a string, got 7"):
        load_config(write(tmp_path, data={"train": "t.csv", "label_names": {1: 7}}))


def test_label_names_in_the_config_are_ones_that_can_be_served(tmp_path):
    # A blank name serves an empty answer; a multi-label answer's names are joined with "," (label_names).
    with pytest.raises(ValueError, match=r"data.label_names.2: ' ' is blank: its answers would read as no answer"):
        load_config(write(tmp_path, data={"train": "t.csv", "label_names": {1: "world", 2: " "}}))
    with pytest.raises(ValueError, match=r"model.labels\[0\]: '' is blank"):
        load_config(write(tmp_path, task="relation_extraction", model={"labels": ["", "founded"]}))
    multi_label = {"multi_label": True, "labels": ["sports", "arts, culture"]}
    with pytest.raises(ValueError, match=r"model.labels\[1\]: 'arts, culture' holds \",\", which separates the labels"):
        load_config(write(tmp_path, model=multi_label))
    assert load_config(write(tmp_path, model={"labels": ["sports", "arts, culture"]})).model.labels[1] == "arts, culture"
    with pytest.raises(ValueError, match=r"model.labels\[2\]: 'world' repeats model.labels\[0\]"):
        load_config(write(tmp_path, model={"labels": ["world", "sports", "world"]}))
    entity_types = {"entity_types": ["PER", " "]}
    with pytest.raises(ValueError, match=r"model.entity_types\[1\]: ' ' is blank"):
        load_config(write(tmp_path, task="token_classification", data={"train": "t.txt"}, model=entity_types))
    entity_types = {"entity_types": ["PER", "LOC", "PER"]}
    with pytest.raises(ValueError, match=r"model.entity_types\[2\]: 'PER' repeats model.entity_types\[0\]"):
        load_config(write(tmp_path, task="token_classification", data={"train": "t.txt"}, model=entity_types))


def test_sequence_length_is_checked_against_the_backbones_positions_and_a_missing_source_named(tmp_path):
    checkpoint = tmp_path / "checkpoint"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps({"model_type": "bert", "max_position_embeddings": 64}))
    assert load_config(write(tmp_path, backbone={"source": str(checkpoint), "sequence_length": 64})
                       ).backbone.sequence_length == 64
    with pytest.raises(ValueError, match=r"backbone.sequence_length: 65 is more than the 64 positions of backbone.source"):
        load_config(write(tmp_path, backbone={"source": str(checkpoint), "sequence_length": 65}))
    with pytest.raises(ValueError, match=r"backbone.source: no such directory: .*elsewhere"):
        load_config(write(tmp_path, backbone={"source": str(tmp_path / "elsewhere")}))
    # A GPT-2 window of n tokens reads n + 1 positions: the model's "must be in 1..63" named no key.
    gpt2 = tmp_path / "gpt2"
    gpt2.mkdir()
    (gpt2 / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_positions": 64}))
    for backbone, of in (({"source": str(gpt2)}, f"backbone.source {gpt2}"),
                         ({"source": "scratch", "context_length": 64}, "backbone.context_length")):
        with pytest.raises(ValueError, match=rf"backbone.sequence_length: 64 does not fit the 64 positions of {of}: "
                                             r"a window of n tokens needs n \+ 1 \(its last token is a target\); "
                                             r"use at most 63"):
            load_config(write(tmp_path, task="causal_lm", backbone={**backbone, "sequence_length": 64}))
        assert load_config(write(tmp_path, task="causal_lm", backbone={**backbone, "sequence_length": 63}))


def test_a_missing_data_file_is_named_by_its_key(tmp_path):
    from tfllm.runner import task_of

    config = load_config(write(tmp_path, data={"train": "absent.csv", "validation": "dev.csv"}))
    with pytest.raises(ValueError, match=r"job.yaml: data.train: no such file: .*absent.csv"):
        task_of(config).splits(config)
    (tmp_path / "folder").mkdir()
    config = load_config(write(tmp_path, data={"train": "folder"}))
    with pytest.raises(ValueError, match=r"job.yaml: data.train: .*folder is a directory; name a data file"):
        task_of(config).splits(config)


def test_run_and_export_directories_cannot_be_files(tmp_path):
    (tmp_path / "taken").write_text("")
    with pytest.raises(ValueError, match=r"job.yaml: run_dir: .*taken cannot be a directory: .*taken is a file"):
        load_config(write(tmp_path, run_dir=str(tmp_path / "taken")))
    with pytest.raises(ValueError, match=r"job.yaml: export.root: .*taken/models cannot be a directory: .*taken is a file"):
        load_config(write(tmp_path, export={"root": str(tmp_path / "taken" / "models")}))
    assert load_config(write(tmp_path, run_dir=str(tmp_path / "new" / "run"))).run_dir.endswith("new/run")  # made later
