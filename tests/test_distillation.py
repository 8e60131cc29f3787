"""Distillation: students made from every k-th layer of a teacher, trained on its softened predictions."""

import json

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from conftest import TINY, VOCABULARY, bert_job_config, run_tfllm, sentiment_examples
from test_token_classifier import TYPES, entity_examples
from tfllm.backbones.sources import Bert, load_bert
from tfllm.data.examples import TextExample
from tfllm.models.classification_metrics import MacroF1
from tfllm.models.student import student_of
from tfllm.models.text_classifier import TextClassifier
from tfllm.models.token_classifier import TokenClassifier
from tfllm.training.distillation import Distillation
from tfllm.training.optimizer import adamw_with_warmup

LABELS = ["negative", "positive"]


def four_layer_teacher(preset_dir):
    """An untrained classifier on a 4-layer tiny backbone with the tiny preset's preprocessor."""
    keras.utils.set_random_seed(4)
    backbone = keras_hub.models.BertBackbone(vocabulary_size=len(VOCABULARY), **{**TINY, "num_layers": 4})
    return TextClassifier(Bert(backbone, load_bert(preset_dir, sequence_length=32).preprocessor), LABELS,
                          pooling="mean")


def fit_student(teacher, examples, soft_weight, unlabeled=(), epochs=8, init="scratch"):
    """A 1-layer student of `teacher` (from fresh weights: nothing of the teacher's answers is copied),
    trained on `examples` (and `unlabeled`)."""
    keras.utils.set_random_seed(1)
    student = student_of(teacher, 1, init=init)
    data = student.make_dataset(examples, batch_size=16, training=True, seed=0, unlabeled=unlabeled)
    student.compile(optimizer=adamw_with_warmup(3e-3, total_steps=len(data) * epochs),
                    distillation=Distillation(teacher, temperature=2.0, soft_weight=soft_weight))
    student.fit(data, epochs=epochs, verbose=0)
    return student


def answers(model, texts):
    return [row["label"] for row in model.predict(texts)]


def test_students_start_from_every_kth_layer_of_their_teacher(keras_hub_preset_dir):
    teacher = four_layer_teacher(keras_hub_preset_dir)
    student = student_of(teacher, 2)
    assert len(student.backbone.transformer_layers) == 2 and student.head_config() == teacher.head_config()
    for student_layer, teacher_index in zip(student.backbone.transformer_layers, [1, 3]):
        for mine, theirs in zip(student_layer.get_weights(), teacher.backbone.transformer_layers[teacher_index].get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    for name in ("token_embedding", "position_embedding", "embeddings_layer_norm"):
        for mine, theirs in zip(student.backbone.get_layer(name).get_weights(),
                                teacher.backbone.get_layer(name).get_weights()):
            np.testing.assert_array_equal(mine, theirs)
    np.testing.assert_array_equal(student.get_layer("logits").get_weights()[0],
                                  teacher.get_layer("logits").get_weights()[0])
    assert student.count_params() < teacher.count_params()

    fresh = student_of(teacher, 2, init="scratch", hidden_dim=8)  # tiny heads have size 8: one head of 8
    config = fresh.backbone.get_config()
    assert (config["hidden_dim"], config["num_heads"], config["intermediate_dim"]) == (8, 1, 16)
    assert not np.array_equal(fresh.backbone.get_layer("token_embedding").get_weights()[0][:, :8],
                              teacher.backbone.get_layer("token_embedding").get_weights()[0][:, :8])
    with pytest.raises(ValueError, match="1 to 4 layers, not 5"):
        student_of(teacher, 5)
    with pytest.raises(ValueError, match="init='scratch' builds a narrower one"):
        student_of(teacher, 2, hidden_dim=8)

    weights = len(student.weights)
    student.compile(distillation=Distillation(teacher))
    assert len(student.weights) == weights  # the teacher is not part of the student (nor saved with it)
    assert not teacher.trainable


def test_narrow_students_keep_the_feed_forward_units_that_add_most(keras_hub_preset_dir):
    teacher = four_layer_teacher(keras_hub_preset_dir)
    weak = np.arange(TINY["intermediate_dim"]) % 2 == 1  # every other unit made to add almost nothing
    for layer in teacher.backbone.transformer_layers:
        outer = layer._feedforward_output_dense.kernel
        outer.assign(np.where(weak[:, None], 0.001, 1.0) * outer.numpy())
    width = TINY["intermediate_dim"] // 2
    student = student_of(teacher, 2, intermediate_dim=width)
    assert student.backbone.get_config()["intermediate_dim"] == width
    hidden = np.random.default_rng(0).normal(size=(2, 5, TINY["hidden_dim"])).astype("float32")
    for student_layer, teacher_index in zip(student.backbone.transformer_layers, [1, 3]):
        teacher_layer = teacher.backbone.transformer_layers[teacher_index]
        np.testing.assert_array_equal(student_layer._feedforward_intermediate_dense.kernel.numpy(),
                                      teacher_layer._feedforward_intermediate_dense.kernel.numpy()[:, ~weak])
        np.testing.assert_array_equal(student_layer._self_attention_layer.get_weights()[0],
                                      teacher_layer._self_attention_layer.get_weights()[0])
        # Dropping the weak units changes the layer's output by their small share only.
        np.testing.assert_allclose(student_layer(hidden), teacher_layer(hidden), atol=0.02)
    with pytest.raises(ValueError, match="keeps at most its 32 feed-forward units, not 64"):
        student_of(teacher, 2, intermediate_dim=64)
    narrow_scratch = student_of(teacher, 2, init="scratch", hidden_dim=8, intermediate_dim=8)
    assert narrow_scratch.backbone.get_config()["intermediate_dim"] == 8


def test_soft_loss_is_the_scaled_divergence_and_counts_only_weighted_tokens():
    teacher = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    x = np.array([[1.0, -1.0], [0.5, 2.0]], np.float32)
    teacher_logits = teacher(x).numpy()
    student_logits = np.zeros_like(teacher_logits)
    distillation = Distillation(teacher, temperature=3.0, soft_weight=0.25)
    p = tf.nn.softmax(teacher_logits / 3.0).numpy()
    expected = 9.0 * np.mean(np.sum(p * (np.log(p) - np.log(1 / 3)), -1))
    assert float(distillation.soft_loss(x, student_logits)) == pytest.approx(expected, rel=1e-5)
    assert float(distillation.loss(x, 2.0, student_logits)) == pytest.approx(0.75 * 2.0 + 0.25 * expected, rel=1e-5)
    only_soft = Distillation(teacher, temperature=3.0, soft_weight=1.0)  # the labels play no part
    assert float(only_soft.loss(x, 1e6, student_logits)) == pytest.approx(expected, rel=1e-5)

    tokens = keras.Sequential([keras.Input((2, 2)), keras.layers.Dense(3)])  # [batch, tokens, tags]
    x = np.stack([x, x])
    wrong_where_unweighted = tokens(x).numpy()
    wrong_where_unweighted[:, 1] += [5.0, -5.0, 0.0]
    weights = np.array([[1.0, 0.0], [1.0, 0.0]], np.float32)
    assert float(Distillation(tokens).soft_loss(x, wrong_where_unweighted, weights)) == pytest.approx(0.0, abs=1e-6)
    assert float(Distillation(tokens).soft_loss(x, wrong_where_unweighted)) > 0.1
    with pytest.raises(ValueError, match="soft_weight must be in"):
        Distillation(teacher, soft_weight=1.5)


@pytest.fixture(scope="module")
def teacher(two_layer_preset_dir):
    """A classifier trained on sentiment_examples(160), which the students below learn from."""
    keras.utils.set_random_seed(0)
    teacher = TextClassifier(load_bert(two_layer_preset_dir, sequence_length=32), LABELS, pooling="mean")
    data = teacher.make_dataset(sentiment_examples(160), batch_size=16, training=True, seed=0)
    teacher.compile(optimizer=adamw_with_warmup(3e-3, total_steps=len(data) * 5))
    teacher.fit(data, epochs=5, verbose=0)
    return teacher


def test_a_student_follows_its_teacher_as_far_as_soft_weight_says(teacher):
    examples = sentiment_examples(160)
    held_out = sentiment_examples(60, seed=9)
    texts = [e.text for e in held_out]
    teacher_answers = answers(teacher, texts)
    assert np.mean([a == e.label for a, e in zip(teacher_answers, held_out)]) > 0.9
    # Every training label flipped: the teacher's soft targets and the hard labels disagree everywhere.
    flipped = [TextExample(e.text, None, LABELS[1 - LABELS.index(e.label)], e.source) for e in examples]
    follows_teacher = fit_student(teacher, flipped, soft_weight=1.0)
    follows_labels = fit_student(teacher, flipped, soft_weight=0.0)
    assert follows_teacher.backbone.trainable  # a student of a frozen (in-use) teacher still learns
    assert np.mean([a == b for a, b in zip(answers(follows_teacher, texts), teacher_answers)]) > 0.9
    assert np.mean([a == b for a, b in zip(answers(follows_labels, texts), teacher_answers)]) < 0.2


def test_unlabeled_texts_teach_through_the_teacher_alone(teacher, two_layer_preset_dir):
    labeled = sentiment_examples(8, seed=3)
    unlabeled = [TextExample(e.text, None, None, e.source) for e in sentiment_examples(200, seed=4)]
    student = student_of(teacher, 1, init="scratch")
    data = student.make_dataset(labeled, batch_size=16, training=True, seed=0, unlabeled=unlabeled)
    weights = np.concatenate([w.numpy() for _, _, w in data])
    targets = np.concatenate([y.numpy() for _, y, _ in data])
    assert len(weights) == 208 and weights.sum() == 8 and targets.min() == 0  # no row lost, none labeled -1

    student = fit_student(teacher, labeled, soft_weight=0.5, unlabeled=unlabeled)
    texts = [e.text for e in sentiment_examples(60, seed=9)]
    assert np.mean([a == b for a, b in zip(answers(student, texts), answers(teacher, texts))]) > 0.9
    # The metrics Keras shows count the labeled rows only.
    shown = student.evaluate(student.make_dataset(labeled, unlabeled=unlabeled), verbose=0, return_dict=True)
    labeled_accuracy = np.mean([a == e.label for a, e in zip(answers(student, [e.text for e in labeled]), labeled)])
    assert shown["accuracy"] == pytest.approx(labeled_accuracy)
    with pytest.raises(ValueError, match="single-label"):
        TextClassifier(load_bert(two_layer_preset_dir, sequence_length=32), LABELS, multi_label=True).make_dataset(
            labeled, unlabeled=unlabeled)

    metric = MacroF1(2)  # rows of weight 0 do not count
    metric.update_state([0, 1, 0], [[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], sample_weight=[1.0, 1.0, 0.0])
    assert float(metric.result()) == pytest.approx(1.0)


def test_a_tagger_student_learns_its_teachers_tags(two_layer_preset_dir):
    keras.utils.set_random_seed(0)
    teacher = TokenClassifier(load_bert(two_layer_preset_dir, sequence_length=32), TYPES)
    examples = entity_examples(160)
    data = teacher.make_dataset(examples, batch_size=16, training=True, seed=0)
    teacher.compile(optimizer=adamw_with_warmup(3e-3, total_steps=len(data) * 5))
    teacher.fit(data, epochs=5, verbose=0)
    keras.utils.set_random_seed(1)
    student = student_of(teacher, 1, init="scratch")
    student.compile(optimizer=adamw_with_warmup(3e-3, total_steps=len(data) * 5),
                    distillation=Distillation(teacher, soft_weight=1.0))
    history = student.fit(data, epochs=5, verbose=0).history
    assert history["loss"][-1] < 0.3 * history["loss"][0]
    texts = [e.text for e in entity_examples(40, seed=7)]
    spans = lambda model: [[(e["start"], e["end"], e["type"]) for e in row["entities"]]  # noqa: E731
                           for row in model.predict(texts)]
    assert np.mean([a == b for a, b in zip(spans(student), spans(teacher))]) > 0.8


def test_the_distillation_section_trains_a_student_from_the_command_line(two_layer_preset_dir, tmp_path):
    rows = "\n".join(f"{e.text},{e.label}" for e in sentiment_examples(96))
    (tmp_path / "train.csv").write_text("text,label\n" + rows + "\n")
    (tmp_path / "texts.csv").write_text("text\n" + "\n".join(e.text for e in sentiment_examples(64, seed=2)) + "\n")
    teacher_dir = tmp_path / "teacher"
    teacher_dir.mkdir()
    teacher = bert_job_config(teacher_dir, "teacher", "text_classification", two_layer_preset_dir, 32,
                              {"train": str(tmp_path / "train.csv")}, {"epochs": 2})
    student_dir = tmp_path / "student"
    student_dir.mkdir()
    student = bert_job_config(student_dir, "student", "text_classification", two_layer_preset_dir, 32,
                              {"train": str(tmp_path / "train.csv"), "validation": str(tmp_path / "train.csv")},
                              {"epochs": 2})
    distil = ["--set", f"distillation.teacher={teacher_dir / 'run'}", "--set", "distillation.student_layers=1",
              "--set", f"distillation.unlabeled={tmp_path / 'texts.csv'}"]
    result = run_tfllm("train", student, *distil)
    assert result.returncode != 0 and "distillation.teacher: no trained model in" in result.stderr

    assert run_tfllm("train", teacher).returncode == 0
    result = run_tfllm("train", student, *distil, "--set", "distillation.student_intermediate_dim=16")
    assert result.returncode == 0, result.stderr
    assert "a 1-layer student of the 2-layer teacher" in result.stdout and "layers 2" in result.stdout
    assert "keeping 16 of their 32 feed-forward units" in result.stdout
    saved = json.loads((student_dir / "run" / "model" / "tfllm.json").read_text())
    backbone = saved["config"]["backbone"]["layer"]["native"]["config"]
    assert (backbone["num_layers"], backbone["intermediate_dim"]) == (1, 16)
    assert "distillation:" in (student_dir / "run" / "config.yaml").read_text()
    assert run_tfllm("evaluate", student).returncode == 0  # (a student's export: the README's compression test)

    result = run_tfllm("train", student, *distil, "--set", "distillation.student_hidden_dim=8")
    assert result.returncode != 0 and "student_hidden_dim needs distillation.student_init: scratch" in result.stderr
    result = run_tfllm("train", student, "--set", "distillation.student_layers=2")
    assert result.returncode != 0 and "distillation.student_layers is set but distillation.teacher is not" in result.stderr
    result = run_tfllm("train", student, *distil, "--set", "distillation.temperature=0")
    assert result.returncode != 0 and "distillation.temperature: must be more than 0.0" in result.stderr
    result = run_tfllm("train", student, *distil, "--set", "distillation.student_intermediate_dim=64")
    assert result.returncode != 0 and "keeps at most its 32 feed-forward units, not 64" in result.stderr
    result = run_tfllm("train", student, *distil, "--set", "distillation.student_layers=3")
    assert result.returncode != 0 and "distillation: a student of a 2-layer teacher has 1 to 2 layers" in result.stderr
    # A student saved into its teacher's run_dir was saved over the teacher: refused, the teacher untouched.
    teacher_weights = (teacher_dir / "run" / "model" / "model.weights.h5").read_bytes()
    result = run_tfllm("train", teacher, *distil)
    assert result.returncode == 2 and "is this job's own run_dir: the student would be saved over its teacher" \
        in result.stderr
    assert (teacher_dir / "run" / "model" / "model.weights.h5").read_bytes() == teacher_weights
