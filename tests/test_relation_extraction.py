import json
import random

import pytest
import tensorflow as tf

from conftest import FILLER, NEGATIVE, POSITIVE, bert_job_config
from tfllm.cli import main
from tfllm.configs.job import load_config
from tfllm.data.examples import DataError
from tfllm.data.relation_reader import read_relation_examples
from tfllm.runner import task_of
from tfllm.text.entity_markers import mark_entities


def relation_records(count, seed=0):
    """Texts with one positive and one negative word; the relation is the polarity of the word marked as head."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        positive, negative = rng.choice(POSITIVE), rng.choice(NEGATIVE)
        words = rng.sample(FILLER, rng.randint(2, 6)) + [positive, negative]
        rng.shuffle(words)
        text = " ".join(words)
        spans = {word: [text.index(word), text.index(word) + len(word)] for word in (positive, negative)}
        head, tail = (positive, negative) if rng.random() < 0.5 else (negative, positive)
        records.append({"text": text, "head": spans[head], "tail": spans[tail],
                        "relation": "positive" if head == positive else "negative"})
    return records


def test_markers_wrap_the_spans_wherever_they_are():
    texts = tf.constant(["Jobs founded Apple.", "Café 好 Zürich", "ab"])
    marked = mark_entities(texts, [0, 7, 1], [4, 13, 2], [13, 0, 0], [18, 4, 1]).numpy()
    assert [" ".join(m.decode().split()) for m in marked] == [
        "[unused0] Jobs [unused1] founded [unused2] Apple [unused3] .",
        "[unused2] Café [unused3] 好 [unused0] Zürich [unused1]",
        "[unused2] a [unused3] [unused0] b [unused1]"]


def test_bad_relation_rows_name_file_line_and_field(tmp_path):
    path = tmp_path / "relations.jsonl"
    rows = [{"text": "good film", "head": [0, 4], "tail": [5, 9], "relation": "r"},
            {"text": "good film", "head": [0, 4], "tail": [2, 9], "relation": "r"},
            {"text": "good film", "head": [0, 40], "tail": [5, 9], "relation": "r"},
            {"text": "good film", "head": [0, 4], "tail": [5, 9]},
            {"text": "good film", "head": "0-4", "tail": [5, 9], "relation": "r"}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    with pytest.raises(DataError) as error:
        read_relation_examples(str(path))
    for line, field in ((2, "tail"), (3, "head"), (4, "relation"), (5, "head")):
        assert f"{path}:{line}: field '{field}'" in str(error.value)
    assert [e.head for e in read_relation_examples(str(path), on_bad_rows="skip").examples] == [(0, 4)]
    path.write_text(json.dumps({**rows[0], "relation": " "}))  # a blank relation is no name to serve
    with pytest.raises(DataError, match=r"relations.jsonl:1: field 'relation': missing or invalid relation ' '"):
        read_relation_examples(str(path))


def test_a_relation_file_of_one_relation_is_refused_before_any_model_loads(tmp_path):
    records = [{"text": "good film", "head": [0, 4], "tail": [5, 9], "relation": "describes"}] * 3
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    config = tmp_path / "job.yaml"
    config.write_text(json.dumps({"name": "job", "task": "relation_extraction", "data": {"train": "train.jsonl"}}))
    job = load_config(str(config))
    with pytest.raises(ValueError, match=r"data.train's column 'relation' holds one label, 'describes': a single-label "
                                         r"classifier chooses among two or more$"):
        task_of(job).splits(job)


def test_relation_job_learns_from_marked_entities_and_serves_spans(tmp_path, keras_hub_preset_dir, capsys):
    for name, records in (("train", relation_records(256)), ("dev", relation_records(48, seed=5))):
        (tmp_path / f"{name}.jsonl").write_text("\n".join(json.dumps(r) for r in records))
    config = bert_job_config(tmp_path, "head_polarity", "relation_extraction", keras_hub_preset_dir, 24,
                             {"train": "train.jsonl", "validation": "dev.jsonl"}, {"epochs": 8})
    assert main(["train", str(config)]) == 0
    assert main(["evaluate", str(config)]) == 0
    report = json.load(open(tmp_path / "run" / "evaluation" / "validation" / "report.json"))
    assert report["accuracy"] > 0.85  # the label depends on which word is marked, so the markers are read
    capsys.readouterr()
    assert main(["predict", str(config), "--input", str(tmp_path / "dev.jsonl")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    expected = [r["relation"] for r in relation_records(48, seed=5)]
    assert len(rows) == 48 and sum(r["label"] == e for r, e in zip(rows, expected)) > 0.85 * 48
    assert main(["predict", str(config), "--text", "good film"]) == 2
    assert "head and tail spans" in capsys.readouterr().err
    assert main(["export", str(config)]) == 0
    assert "outputs match" in capsys.readouterr().out
    signature = tf.saved_model.load(str(tmp_path / "savedmodels" / "head_polarity" / "1")).signatures["serving_default"]
    assert set(signature.structured_input_signature[1]) == {"text", "head_start", "head_end", "tail_start", "tail_end"}
