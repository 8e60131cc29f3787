import json

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from conftest import FILLER, NEGATIVE, POSITIVE, sentiment_examples
from task_harness import run_task_test
from tfllm.backbones import load_bert
from tfllm.data.examples import DataError, TextExample
from tfllm.evaluation.classification_report import classification_report
from tfllm.export.saved_model_export import export_for_serving
from tfllm.models.classification_metrics import MacroF1
from tfllm.models.text_classifier import TextClassifier
from tfllm.models.text_classifier_serving import TextClassifierServer
from tfllm.models.token_classifier import TokenClassifier
from tfllm.training.optimizer import NO_WEIGHT_DECAY, adamw_with_warmup


def trained(preset_dir, examples, epochs=4, sequence_length=128, **kwargs):
    labels = kwargs.pop("labels", ["negative", "positive"])
    classifier = TextClassifier(load_bert(preset_dir, sequence_length=sequence_length), labels, **kwargs)
    data = classifier.make_dataset(examples, batch_size=16, training=True, seed=0)
    classifier.compile(optimizer=adamw_with_warmup(3e-3, total_steps=len(data) * epochs))
    classifier.fit(data, epochs=epochs, verbose=0)
    return classifier


def test_unknown_label_in_evaluation_data_is_reported(keras_hub_preset_dir):
    classifier = TextClassifier(load_bert(keras_hub_preset_dir), ["negative", "positive"])
    with pytest.raises(DataError, match=r"dev.csv:7: field 'sentiment': unknown label\(s\) \['neutral'\]"):
        classifier.encode_labels([TextExample("meh", None, "neutral", "dev.csv:7")], field="sentiment")


def test_macro_f1_and_weight_decay_exclusions(keras_hub_preset_dir):
    # A third class that neither the labels nor the predictions hold is left out of the mean (as
    # scikit-learn's f1_score(average="macro") does), in the Keras metric and in evaluation reports alike.
    metric = MacroF1(3)
    metric.update_state(np.array([0, 0, 1, 1]), np.array([[1., 0, 0], [1., 0, 0], [1., 0, 0], [0, 1., 0]]))
    assert float(metric.result()) == pytest.approx((0.8 + 2 / 3) / 2)
    report = classification_report([0, 0, 1, 1], [0, 0, 0, 1], ["a", "b", "c"])
    assert report["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2) and report["per_class"]["c"]["f1"] == 0.0
    classifier = TextClassifier(load_bert(keras_hub_preset_dir), ["a", "b"])
    optimizer = adamw_with_warmup(1e-3, total_steps=10)
    optimizer.build(classifier.trainable_variables)
    decayed = {v.path for v in classifier.trainable_variables if optimizer._use_weight_decay(v)}
    assert decayed and not any(v.endswith(tuple(NO_WEIGHT_DECAY)) for v in decayed)
    assert any(v.endswith("kernel") for v in decayed)


def long_examples(count, seed):
    """30-40 filler words, then the sentiment word: past the first window of a 16-token model."""
    rng = np.random.default_rng(seed)
    examples = []
    for i, example in enumerate(sentiment_examples(count, seed=seed)):
        sentiment = next(w for w in example.text.split() if w in POSITIVE + NEGATIVE)
        words = list(rng.choice(FILLER, int(rng.integers(30, 40)))) + [sentiment] + list(rng.choice(FILLER, 3))
        examples.append(TextExample(" ".join(words), None, example.label, example.source))
    return examples


def test_long_texts_are_read_whole_in_windows_also_when_exported(keras_hub_preset_dir, tmp_path):
    train, test = long_examples(192, seed=0), long_examples(48, seed=1)
    accuracy = lambda model: float(np.mean(  # noqa: E731
        model.predict_probabilities(test).argmax(1) == [model.labels.id(e.label) for e in test]))
    truncating = trained(keras_hub_preset_dir, train, epochs=3, sequence_length=16, pooling="mean")
    windowed = trained(keras_hub_preset_dir, train, epochs=6, sequence_length=16, pooling="mean", long_text="mean",
                       stride=7)
    assert accuracy(truncating) < 0.7 < 0.9 < accuracy(windowed)

    server = TextClassifierServer(windowed)
    served = server.serve(tf.constant([e.text for e in test]))["probabilities"].numpy()
    np.testing.assert_allclose(served, windowed.predict_probabilities(test), atol=1e-5)
    tf.saved_model.save(server, str(tmp_path / "long"), signatures=server.signatures())
    exported = tf.saved_model.load(str(tmp_path / "long")).signatures["serving_default"]
    np.testing.assert_allclose(exported(text=tf.constant([e.text for e in test]))["probabilities"], served, atol=1e-5)


def test_single_label_classifier_passes_the_task_harness_learns_and_loads_old_formats(keras_hub_preset_dir,
                                                                                       tmp_path):
    def build():
        keras.utils.set_random_seed(0)
        return TextClassifier(load_bert(keras_hub_preset_dir, sequence_length=32), ["negative", "positive"],
                              pooling="mean")

    examples = sentiment_examples(160)
    texts = [e.text for e in examples]
    classifier, rows = run_task_test(build, (texts, [e.label for e in examples]),
                                     lambda model: model.examples(texts[:64]), tmp_path, epochs=5, learning_rate=3e-3)
    assert set(rows[0]) == {"text", "label", "probabilities"}
    test = sentiment_examples(64, seed=1)
    _, accuracy, _ = classifier.evaluate(classifier.make_dataset(test), verbose=0)
    assert accuracy > 0.8
    # Raw strings too, as fit and predict take them: Keras's accuracy is the served answers'.
    raw = classifier.evaluate([e.text for e in test], [e.label for e in test], verbose=0, return_dict=True)
    served = classifier.predict([e.text for e in test])
    assert raw["accuracy"] == pytest.approx(np.mean([row["label"] == e.label for row, e in zip(served, test)]))

    # A directory as tfllm 0.1 wrote it (format 1: flat tfllm.json, vocab.txt beside it) loads the same model.
    saved = json.loads((tmp_path / "model" / "tfllm.json").read_text())
    config = saved["config"]
    backbone = config.pop("backbone")
    (tmp_path / "model" / backbone["tokenizer"]["wordpiece_vocabulary"]).rename(tmp_path / "model" / "vocab.txt")
    backbone["tokenizer"]["wordpiece_vocabulary"] = "vocab.txt"
    (tmp_path / "model" / "tfllm.json").write_text(json.dumps({
        "task": "text_classification", **config, "sequence_length": backbone["sequence_length"],
        "tokenizer": backbone["tokenizer"], "backbone": backbone["layer"]}))
    old = TextClassifier.load(str(tmp_path / "model"))
    np.testing.assert_allclose(old.predict_probabilities(test), classifier.predict_probabilities(test), atol=1e-6)

    (tmp_path / "model" / "tfllm.json").write_text(json.dumps({**saved, "format_version": 3}))
    with pytest.raises(ValueError, match="model format 3 by a newer tfllm"):
        TextClassifier.load(str(tmp_path / "model"))
    (tmp_path / "model" / "tfllm.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="a TextClassifier model, not a TokenClassifier"):
        TokenClassifier.load(str(tmp_path / "model"))


def test_multi_label_pair_classifier_passes_the_task_harness_and_serves_readable_answers(keras_hub_preset_dir,
                                                                                         tmp_path):
    labels = ["long", "negative", "positive"]

    def build():
        keras.utils.set_random_seed(0)
        return TextClassifier(load_bert(keras_hub_preset_dir, sequence_length=32), labels, pooling="mean",
                              multi_label=True, text_pair=True, thresholds=[0.5, 0.4, 0.4])

    examples = sentiment_examples(160, pair=True)
    x = ([e.text for e in examples], [e.text_pair for e in examples])
    y = [[e.label] + (["long"] if len(e.text) > 28 else []) for e in examples]
    classifier, rows = run_task_test(build, (x, y), lambda model: model.examples((x[0][:64], x[1][:64])), tmp_path,
                                     epochs=4, learning_rate=3e-3)
    assert set(rows[0]) == {"text", "text_pair", "labels", "probabilities"}

    server = TextClassifierServer(classifier)
    outputs = server.serve(text=tf.constant(["the film was good", "awful"]), text_pair=tf.constant(["you", ""]))
    assert outputs["label_ids"].shape == (2, 3) and outputs["probabilities"].shape == (2, 3)
    names = [n.decode() for n in outputs["label_names"].numpy()]
    chosen = outputs["label_ids"].numpy()
    assert names == [",".join(label for label, c in zip(labels, row) if c) for row in chosen]
    assert "positive" in names[0].split(",") and "negative" in names[1].split(",")


def test_raw_labels_may_be_ids_and_bad_ones_name_their_place(keras_hub_preset_dir):
    classifier = TextClassifier(load_bert(keras_hub_preset_dir), ["negative", "positive"])
    assert [e.label for e in classifier.examples(["good", "bad"], [1, 0])] == ["positive", "negative"]
    with pytest.raises(DataError, match=r"y:1: field 'label': unknown label\(s\) \['neutral'\]"):
        classifier.fit(["good", "meh"], ["positive", "neutral"], verbose=0)
    with pytest.raises(ValueError, match="^2 texts and 1 labels: give one of each per example"):
        classifier.examples(["good", "bad"], ["positive"])
    with pytest.raises(ValueError, match=r"y\[1\]: label id 5 is not one of 0-1 \(\['negative', 'positive'\]\)"):
        classifier.fit(["good", "bad"], [1, 5], verbose=0)
    # A pandas column's empty cell is NaN: named by its place, not a tensor Keras cannot convert.
    with pytest.raises(ValueError, match=r"x\[1\]: expected a string, got float nan"):
        classifier.fit(pd.Series(["good", np.nan]), ["positive", "negative"], verbose=0)
    with pytest.raises(ValueError, match=r"x\[1\]: expected a string, got NoneType None"):
        classifier.predict(["good", None])
    with pytest.raises(ValueError, match=r"raw inputs need their labels to train or evaluate on: fit\(x=..., y=labels\)"):
        classifier.evaluate(["good", "bad"], verbose=0)
    with pytest.raises(ValueError, match="predict takes raw inputs"):
        classifier.predict(None)
    # A nested list, or a pair to a single-text model, reached TensorFlow as a [1, 1] tensor it could not bind.
    for x in ([["good film"]], (["good film"],)):
        with pytest.raises(ValueError, match=r"x\[0\]: expected a string, got list \['good film'\] \(this model reads "
                                             r"one text per input\)"):
            classifier.predict(x)
    with pytest.raises(ValueError, match="takes no sample_weight"):  # Keras's refusal spoke of a tf.data.Dataset
        classifier.fit(["good", "bad"], ["positive", "negative"], sample_weight=np.ones(2), verbose=0)
    with pytest.raises(TypeError, match=r"not a TextClassifier: pass its server\(\)"):
        export_for_serving(classifier, "unused", "tiny")
    with pytest.raises(ValueError, match="one label, 'positive': a single-label classifier chooses among two or more"):
        TextClassifier(load_bert(keras_hub_preset_dir), ["positive"])
    assert TextClassifier(load_bert(keras_hub_preset_dir), ["positive"], multi_label=True).output_shape == (None, 1)


def test_raw_text_fit_holds_out_a_validation_split_and_keras_save_names_the_way_that_loads(keras_hub_preset_dir,
                                                                                            tmp_path):
    classifier = TextClassifier(load_bert(keras_hub_preset_dir, sequence_length=16), ["negative", "positive"])
    classifier.compile()
    examples = sentiment_examples(40)
    texts, labels = [e.text for e in examples], [e.label for e in examples]
    history = classifier.fit(texts, labels, validation_split=0.25, batch_size=10, epochs=1, verbose=0)
    held_out = classifier.evaluate(texts[30:], labels[30:], verbose=0, return_dict=True)
    assert history.history["val_accuracy"][0] == pytest.approx(held_out["accuracy"])  # the last 10 rows
    with pytest.raises(ValueError, match="between 0 and 1, not 1.5"):
        classifier.fit(texts, labels, validation_split=1.5, verbose=0)
    with pytest.raises(NotImplementedError, match=r"save_to_dir\(directory\) writes it and "
                                                  r"tfllm.TextClassifier.load\(directory\) reads it back"):
        classifier.save(str(tmp_path / "model.keras"))
    assert not (tmp_path / "model.keras").exists()
