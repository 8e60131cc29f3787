import json
import random

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import FILLER, NEGATIVE, POSITIVE, bert_job_config
from task_harness import run_task_test
from tfllm.backbones.sources import load_bert
from tfllm.cli import main
from tfllm.data.entity_readers import Entity, EntityExample, entities_from_tags
from tfllm.models.entity_tags import EntityTags
from tfllm.models.token_classifier import TokenClassifier
from tfllm.models.token_classifier_serving import TokenClassifierServer
from tfllm.text.word_pieces import WordSplitter
from tfllm.text.wordpiece_tokenizer import WordPieceTokenizer

TYPES = ["NEG", "POS"]


def entity_examples(count, seed=0):
    """Sentences of filler words in which each sentiment word is an entity of its polarity."""
    rng = random.Random(seed)
    examples = []
    for i in range(count):
        words = rng.sample(FILLER, rng.randint(2, 7)) + [rng.choice(POSITIVE), rng.choice(NEGATIVE)]
        rng.shuffle(words)
        text, entities = "", []
        for word in words:
            start = len(text) + (1 if text else 0)
            text = f"{text} {word}" if text else word
            if word in POSITIVE + NEGATIVE:
                entities.append(Entity(start, start + len(word), "POS" if word in POSITIVE else "NEG"))
        examples.append(EntityExample(text, tuple(entities), f"synthetic:{i + 1}"))
    return examples


def build_tagger(preset_dir):
    keras.utils.set_random_seed(0)
    return TokenClassifier(load_bert(preset_dir, sequence_length=16), TYPES, scheme="bioes")


@pytest.fixture()
def tagger(keras_hub_preset_dir):
    return build_tagger(keras_hub_preset_dir)


@pytest.mark.parametrize("scheme", ["bio", "bioes"])
def test_graph_decoding_agrees_with_the_reader_on_any_tag_sequence(scheme):
    tags = EntityTags(["A", "B"], scheme)
    rng = random.Random(0)
    rows = [[rng.randrange(len(tags)) for _ in range(rng.randrange(0, 9))] for _ in range(300)]
    width = max(map(len, rows))
    ids, mask = np.zeros((len(rows), width), np.int32), np.zeros((len(rows), width), bool)
    for i, row in enumerate(rows):
        ids[i, :len(row)], mask[i, :len(row)] = row, True
    starts = np.tile(np.arange(width, dtype=np.int64) * 10, (len(rows), 1))
    decoded = tags.decode(tf.constant(ids), tf.ones(ids.shape), tf.constant(starts), tf.constant(starts + 5),
                          tf.constant(mask))
    for i, row in enumerate(rows):
        expected = [(a * 10, (b - 1) * 10 + 5, tags.types.index(kind))
                    for a, b, kind in entities_from_tags([tags.names[t] for t in row])]
        got = list(zip(*(decoded[k][i].numpy().tolist() for k in ("starts", "ends", "type_ids"))))
        assert got == expected, [tags.names[t] for t in row]


def test_word_tags_mark_first_inner_and_last_words():
    words = [(0, 5), (6, 9), (10, 15), (16, 20)]
    entities = [(6, 20, "PER"), (0, 5, "LOC")]
    assert [EntityTags(["LOC", "PER"], "bio").names[t] for t in EntityTags(["LOC", "PER"], "bio").word_tags(
        words, entities)] == ["B-LOC", "B-PER", "I-PER", "I-PER"]
    bioes = EntityTags(["LOC", "PER"], "bioes")
    assert [bioes.names[t] for t in bioes.word_tags(words, entities)] == ["S-LOC", "B-PER", "I-PER", "E-PER"]


def test_words_keep_offsets_into_the_raw_text(vocabulary_file):
    splitter = WordSplitter(WordPieceTokenizer(vocabulary_file, lowercase=True))
    texts = ["Café, GOODSSS!", "好电影 fine", b"ok \xff movie"]
    pieces, starts, ends = splitter(tf.constant(texts))
    raw = [t.encode("utf-8") if isinstance(t, str) else t.replace(b"\xff", "\ufffd".encode()) for t in texts]
    words = [[raw[i][s:e].decode() for s, e in zip(row_starts, row_ends)]
             for i, (row_starts, row_ends) in enumerate(zip(starts.to_list(), ends.to_list()))]
    # Offsets into the input, not into its lower-cased, accent-stripped form.
    assert words == [["Café", ",", "GOODSSS", "!"], ["好", "电", "影", "fine"], ["ok", "\ufffd", "movie"]]
    vocabulary = open(vocabulary_file).read().split()
    assert [vocabulary[i] for i in pieces[0][2].numpy()] == ["good", "##s", "##s", "##s"]  # one word, four pieces


def test_labels_sit_on_first_pieces_and_truncation_drops_whole_words(tagger):
    # Each "goods" is two pieces: 16 tokens hold [CLS], 6 x "goods", "bad", the first piece of the last
    # "goods" (its word is still tagged) and [SEP]; "awful" lies past the cut.
    text = "goods " * 6 + "bad goods awful"
    entities = (Entity(0, 5, "POS"), Entity(36, 39, "NEG"), Entity(40, 45, "POS"), Entity(46, 51, "NEG"))
    assert [text[e.start:e.end] for e in entities] == ["goods", "bad", "goods", "awful"]
    features, labels, weights = next(iter(tagger.make_dataset([EntityExample(text, entities, "t:1")], batch_size=1)))
    names = [tagger.tags.names[t] for t in labels[0].numpy()]
    assert weights[0].numpy().tolist() == [0] + [1, 0] * 6 + [1, 1, 0]
    assert names[1] == "S-POS" and names[3] == "O" and names[13:15] == ["S-NEG", "S-POS"]
    assert features["token_ids"].shape == (1, 16)


def test_unknown_entity_types_and_spans_outside_their_text_are_named(tagger):
    with pytest.raises(ValueError, match=r"t:7: unknown entity type\(s\) \['ORG'\]"):
        tagger.make_dataset([EntityExample("good", (Entity(0, 4, "ORG"),), "t:7")])
    # Raw spans given to fit or evaluate: one past its text's end names its row, before any tensor is made.
    with pytest.raises(ValueError, match=r"y:1: entity \(0, 9, 'POS'\) is not a span of its text's 4 characters"):
        tagger.evaluate(["good movie", "good"], [[(0, 4, "POS")], [(0, 9, "POS")]])
    with pytest.raises(ValueError, match=r"x\[0\]: expected a string, got list \['good movie'\]"):  # a TypeError
        tagger.predict([["good movie"]])


def conll(examples):
    """`examples` as a CoNLL file's text: a word and its BIO tag per line."""
    lines = []
    for example in examples:
        position = 0
        for word in example.text.split(" "):
            entity = next((e for e in example.entities if e.start == position), None)
            lines.append(f"{word} {'B-' + entity.type if entity else 'O'}")
            position += len(word) + 1
        lines.append("")
    return "\n".join(lines)


def test_ner_job_schedules_every_step_it_runs(tmp_path, keras_hub_preset_dir):
    """Length bucketing makes more batches than ceil(examples / batch_size); the learning-rate schedule
    must end with the last of them, not run them at learning rate 0."""
    from tfllm.configs.job import load_config
    from tfllm import runner

    short = entity_examples(90)
    lengthened = [EntityExample(e.text + " the movie was quite really", e.entities, e.source) for e in short[45:]]
    (tmp_path / "train.txt").write_text(conll(short[:45] + lengthened))
    config = load_config(str(bert_job_config(tmp_path, "schedule", "token_classification", keras_hub_preset_dir, 16,
                                             {"train": "train.txt"}, {"epochs": 2, "backup_every_steps": None})))
    tagger = runner.train(config, verbose=0)
    steps = int(tagger.optimizer.iterations)
    assert steps > 2 * -(-90 // 16)  # several length buckets, each with a partial batch
    assert tagger.optimizer._learning_rate.total_steps == steps
    assert (tmp_path / "run" / "config.yaml").exists()


def test_ner_job_from_the_cli(tmp_path, keras_hub_preset_dir, capsys):
    (tmp_path / "train.txt").write_text(conll(entity_examples(64)))
    (tmp_path / "dev.txt").write_text(conll(entity_examples(24, seed=5)))
    config = bert_job_config(tmp_path, "sentiment_words", "token_classification", keras_hub_preset_dir, 16,
                             {"train": "train.txt", "validation": "dev.txt"}, {"epochs": 2}, {"tag_scheme": "bioes"})
    assert main(["train", str(config)]) == 0  # learning: the harness test below; this is the job's wiring
    # The checkpoint kept is the best by entity F1 of the served answers, scored after each epoch.
    history = json.load(open(tmp_path / "run" / "history.json"))
    kept = json.load(open(tmp_path / "run" / "checkpoints" / "best.weights.h5.json"))
    assert len(history["val_entity_f1"]) == 2 and kept["monitor"] == "val_entity_f1"
    assert kept["best"] == max(history["val_entity_f1"])
    assert main(["evaluate", str(config)]) == 0
    report = json.load(open(tmp_path / "run" / "evaluation" / "validation" / "report.json"))
    assert 0 <= report["micro_f1"] <= 1 and set(report["per_class"]) == set(TYPES)
    predictions = (tmp_path / "run" / "evaluation" / "validation" / "predictions.jsonl").read_text().splitlines()
    assert len(predictions) == 24 and json.loads(predictions[0])["gold"]
    capsys.readouterr()
    assert main(["predict", str(config), "--text", "the film was great"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["text"] == "the film was great"
    assert all(row["text"][e["start"]:e["end"]] == e["text"] and e["type"] in TYPES for e in row["entities"])
    assert main(["export", str(config)]) == 0
    out = capsys.readouterr().out
    assert "outputs match for serving_default (entity_count, entity_end, entity_score, entity_start, entity_text, entity_type)" in out
    metadata = json.load(open(tmp_path / "savedmodels" / "sentiment_words" / "1" / "assets.extra" / "tfllm_metadata.json"))
    assert metadata["entity_types"] == TYPES and metadata["tag_scheme"] == "bioes"
    assert metadata["validation"]["micro_f1"] == report["micro_f1"]


def test_tagger_passes_the_task_harness_learns_entities_and_serves_offsets_into_the_input(keras_hub_preset_dir,
                                                                                          tmp_path):
    examples = entity_examples(256)
    y = [[(e.start, e.end, e.type) for e in example.entities] for example in examples]
    texts = [e.text for e in examples]
    tagger, rows = run_task_test(lambda: build_tagger(keras_hub_preset_dir), (texts, y),
                                 lambda model: model.examples(texts[:64]), tmp_path, epochs=8, learning_rate=3e-3)
    assert set(rows[0]) == {"text", "entities"}
    assert all(row["text"][e["start"]:e["end"]] == e["text"] for row in rows for e in row["entities"])

    server = TokenClassifierServer(tagger)
    texts = ["the movie was GOOD, the plot awful", "好 电影 poor", "", "fine " * 40]
    outputs = {k: v.numpy() for k, v in server.serve(tf.constant(texts)).items()}
    found = [[(outputs["entity_text"][i, j].decode(), outputs["entity_type"][i, j].decode())
              for j in range(count)] for i, count in enumerate(outputs["entity_count"])]
    assert found[:3] == [[("GOOD", "POS"), ("awful", "NEG")], [("poor", "NEG")], []]
    assert 0 < outputs["entity_count"][3] <= 14  # tagged up to the sequence length
    for i, count in enumerate(outputs["entity_count"]):
        for j in range(count):
            assert texts[i][outputs["entity_start"][i, j]:outputs["entity_end"][i, j]] == outputs["entity_text"][i, j].decode()
    assert (outputs["entity_score"][0, :2] > 0.5).all()
