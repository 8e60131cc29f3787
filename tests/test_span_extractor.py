import json
import random

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import FILLER, NEGATIVE, POSITIVE, bert_job_config, shared_data
from task_harness import run_task_test
from tfllm.backbones.sources import load_bert
from tfllm.cli import main
from tfllm.data.examples import DataError
from tfllm.data.pair_readers import read_corpus
from tfllm.data.squad_reader import Answer, QAExample, read_squad
from tfllm.evaluation.squad_metrics import squad_scores
from tfllm.models.span_extractor import SpanExtractor
from tfllm.models.span_extractor_serving import SpanExtractorServer
from tfllm.text.windows import sliding_windows
from tfllm.training.optimizer import WarmupLinearDecay


def qa_examples(count, seed=0, words=(4, 24)):
    """Contexts of filler words holding one positive and one negative word; "good"/"bad" asks for either."""
    rng = random.Random(seed)
    examples = []
    for i in range(count):
        positive, negative = rng.choice(POSITIVE), rng.choice(NEGATIVE)
        context_words = [rng.choice(FILLER) for _ in range(rng.randint(*words))] + [positive, negative]
        rng.shuffle(context_words)
        context = " ".join(context_words)
        question, answer = ("good ?", positive) if rng.random() < 0.5 else ("bad ?", negative)
        start = context.index(f" {answer}") + 1 if not context.startswith(answer) else 0
        examples.append(QAExample(question, context, (Answer(answer, start),), str(i), f"synthetic:{i}"))
    return examples


def squad_file(path, examples):
    paragraphs = [{"context": e.context, "qas": [{"id": e.id, "question": e.question,
                                                  "answers": [{"text": a.text, "answer_start": a.start} for a in e.answers]}]}
                  for e in examples]
    path.write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]}))
    return str(path)


def build_reader(preset_dir):
    keras.utils.set_random_seed(0)
    return SpanExtractor(load_bert(preset_dir, sequence_length=24), max_question_length=4, stride=8,
                         max_answer_length=4)


@pytest.fixture()
def reader(keras_hub_preset_dir):
    return build_reader(keras_hub_preset_dir)


def test_windows_cover_every_token_and_end_at_the_row_end():
    tokens = tf.ragged.constant([list(range(10)), [], list(range(4))])
    windows, rows, starts = sliding_windows(tokens, tf.constant([4, 4, 2]), 3)
    assert windows.to_list() == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9], [], [0, 1], [2, 3]]
    assert rows.numpy().tolist() == [0, 0, 0, 1, 2, 2] and starts.numpy().tolist() == [0, 3, 6, 0, 0, 2]


def test_targets_point_at_the_answer_in_the_windows_that_hold_it_whole(reader):
    words = ["the"] * 30 + ["goods"] + ["the"] * 10  # "goods" is two pieces, at context pieces 30 and 31
    example = QAExample("good ?", " ".join(words), (Answer("goods", 120),), "1", "t:1")
    encoded = reader.encode(tf.constant([example.question]), tf.constant([example.context]))
    targets = reader.span_targets([example], encoded)
    starts = encoded["window_start"].numpy()  # 20 context pieces per window, 8 apart
    offset = encoded["context_offset"].numpy()
    for window, (start, end) in enumerate(targets):
        holds = starts[window] <= 30 and 31 < starts[window] + 20
        expected = [30 - starts[window] + offset[window], 31 - starts[window] + offset[window]] if holds else [0, 0]
        assert [start, end] == expected
    assert (targets[:, 0] > 0).sum() >= 2  # the answer is learned in each window that holds it
    pieces = reader.preprocessor.tokenizer(tf.constant(["goods"]))[0].numpy().tolist()
    tokens = encoded["token_ids"].to_list()
    assert all(tokens[w][start:end + 1] == pieces for w, (start, end) in enumerate(targets) if start)


def test_squad_scores_normalize_as_the_official_script():
    scores = squad_scores(["The Denver Broncos!", "Panthers", "丹佛野马队"], [["Denver Broncos"], ["Carolina Panthers"],
                                                                         ["丹佛野马"]])
    assert scores["exact_match"] == pytest.approx(100 / 3)
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3 + 8 / 9) / 3)  # Chinese scored by characters


def test_bad_squad_questions_are_named_by_place_and_id(tmp_path):
    examples = qa_examples(3)
    path = tmp_path / "bad.json"
    squad_file(path, examples)
    document = json.loads(path.read_text())
    document["data"][0]["paragraphs"][1]["qas"][0]["answers"][0]["text"] = "not in the context"
    document["data"][0]["paragraphs"][2]["qas"][0]["question"] = " "
    path.write_text(json.dumps(document))
    with pytest.raises(DataError) as error:
        read_squad(str(path))
    assert f"{path}:1/2/1 (id 1): field 'answers'" in str(error.value)
    assert f"{path}:1/3/1 (id 2): field 'question'" in str(error.value)
    assert len(read_squad(str(path), on_bad_rows="skip").examples) == 1


def test_a_squad_file_of_the_wrong_shape_in_places_is_read_with_each_place_named(tmp_path):
    context = "It was Denver Broncos."
    good = {"id": "1", "question": "who?", "answers": [{"text": "Denver Broncos", "answer_start": 7}]}
    path = tmp_path / "converted.json"
    path.write_text(json.dumps({"data": [
        {"title": "t", "paragraphs": [
            {"context": context, "qas": [good, {"id": "2", "question": "who?", "answers": "Denver Broncos"},
                                         ["not", "a", "question"]]},
            {"context": context, "qas": "none"},
            "a paragraph as a string"]},
        "an article as a string",
        {"title": "u", "paragraphs": {"context": context}}]}))
    result = read_squad(str(path), on_bad_rows="skip")
    assert [example.id for example in result.examples] == ["1"]
    assert [str(row).split(f"{path}:", 1)[1] for row in result.bad_rows] == [
        "1/1/2 (id 2): field 'answers': expected a list of {\"text\", \"answer_start\"} objects, got 'Denver Broncos'",
        "1/1/3: field 'qas': expected an object, got list",
        "1/2: field 'qas': expected a list, got str",
        "1/3: field 'paragraphs': expected an object, got str",
        "2: field 'data': expected an object, got str",
        "3: field 'paragraphs': expected a list, got dict"]
    # The search corpus reads the same files' paragraphs, by the same rule.
    corpus = read_corpus(str(path), "squad", on_bad_rows="skip")
    assert [id_ for id_, _ in corpus.examples] == ["t/1", "t/2"] and len(corpus.bad_rows) == 3


@pytest.mark.parametrize("text, start, expected", [
    (" Denver Broncos", 7, ("Denver Broncos", 7)),  # the offset is the text's without its leading space
    ("Denver Broncos ", 6, ("Denver Broncos", 7)),  # the offset is of the space before the answer
    ("Broncos", -1, ("Broncos", 14)),  # no offset: the answer given as text only
    ("the", 35, ("the", 37)),  # a wrong offset: the occurrence nearest to it (of "the" and "Panthers")
])
def test_squad_answers_are_located_as_the_official_tooling_does(tmp_path, text, start, expected):
    context = "It was Denver Broncos against the Panthers."
    path = tmp_path / "other_source.json"
    path.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": context, "qas": [
        {"id": "1", "question": "who?", "answers": [{"text": text, "answer_start": start}]}]}]}]}))
    (example,) = read_squad(str(path)).examples
    answer = example.answers[0]
    assert (answer.text, answer.start) == expected and context[answer.start:][:len(answer.text)] == answer.text


@pytest.mark.parametrize("name, questions", [("squad/dev-v1.1.json", 10570), ("xquad/xquad.zh.json", 1190)])
def test_shared_squad_files_read_whole(name, questions):
    examples = read_squad(shared_data(*name.split("/"))).examples
    assert len(examples) == questions and all(e.answers for e in examples)


def test_qa_job_from_the_cli(tmp_path, keras_hub_preset_dir, capsys):
    squad_file(tmp_path / "train.json", qa_examples(64))
    squad_file(tmp_path / "dev.json", qa_examples(32, seed=5, words=(20, 30)))
    config = bert_job_config(tmp_path, "sentiment_qa", "question_answering", keras_hub_preset_dir, 24,
                             {"train": "train.json", "validation": "dev.json"}, {"epochs": 1},
                             {"max_question_length": 4, "doc_stride": 8, "max_answer_length": 4})
    assert main(["train", str(config)]) == 0  # learning: the harness test below; this is the job's wiring
    assert main(["evaluate", str(config)]) == 0
    report = json.load(open(tmp_path / "run" / "evaluation" / "validation" / "report.json"))
    assert report["examples"] == 32 and 0 <= report["exact_match"] <= report["f1"] <= 100
    predictions = [json.loads(line) for line in open(tmp_path / "run" / "evaluation" / "validation" / "predictions.jsonl")]
    assert len(predictions) == 32 and all(p["gold"] and p["answer"] for p in predictions)
    capsys.readouterr()
    context = "the film was awful you"
    assert main(["predict", str(config), "--text", "bad ?", "--text-pair", context]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["question"] == "bad ?" and context[row["start"]:row["end"]] == row["answer"] != ""
    assert main(["predict", str(config), "--text", "bad ?"]) == 2
    assert main(["export", str(config)]) == 0
    assert "outputs match for serving_default (answer, end, score, start)" in capsys.readouterr().out


def test_reader_passes_the_task_harness_finds_answers_across_windows_and_serves_offsets(two_layer_preset_dir,
                                                                                         tmp_path):
    examples = qa_examples(512)
    x = ([e.question for e in examples], [e.context for e in examples])
    # The tiny model first learns to find sentiment words, then (after ~10 epochs) to read the question.
    schedule = WarmupLinearDecay(5e-3, 80, 20 * 40)  # 32-40 batches an epoch (length buckets end in partial ones)
    reader, rows = run_task_test(lambda: build_reader(two_layer_preset_dir), (x, [e.answers[0].text for e in examples]),
                                 lambda model: model.examples((x[0][:64], x[1][:64])), tmp_path, epochs=20,
                                 learning_rate=schedule, batch_size=16)
    assert set(rows[0]) == {"question", "answer", "score", "start", "end"}
    assert all(context[row["start"]:row["end"]] == row["answer"] for context, row in zip(x[1], rows))
    with pytest.raises(ValueError, match="y:1: the answer 'absent' is not in its context"):
        reader.examples(x, [examples[0].answers[0].text, "absent"] + [""] * 510)

    test = qa_examples(64, seed=9, words=(30, 40))  # every context needs several windows
    server = SpanExtractorServer(reader)
    outputs = {k: v.numpy() for k, v in server.serve(tf.constant([e.question for e in test]),
                                                     tf.constant([e.context for e in test])).items()}
    answers = [a.decode() for a in outputs["answer"]]
    assert squad_scores(answers, [[a.text for a in e.answers] for e in test])["exact_match"] > 80
    for example, answer, start, end in zip(test, answers, outputs["start"], outputs["end"]):
        assert example.context[start:end] == answer

    odd = server.serve(tf.constant(["good ?", "bad ?"]), tf.constant(["", "Café: 好 awful!"]))
    assert [a.decode() for a in odd["answer"].numpy()] == ["", "awful"]
    assert odd["start"].numpy().tolist() == [-1, 8] and odd["score"].numpy()[0] == 0
    with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
        server.serve(tf.constant(["a", "b"]), tf.constant(["c"]))
