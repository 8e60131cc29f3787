"""Small-data remedies: word-piece augmentation in the input pipeline, R-Drop consistency and label smoothing."""

import collections
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import NEGATIVE, POSITIVE, bert_job_config, run_tfllm, sentiment_examples
from tfllm.backbones import load_bert
from tfllm.configs.job import load_config
from tfllm.data.augmentation import TokenAugmentation, keyword_hide_chances
from tfllm.models.smoothed_crossentropy import SmoothedSparseCrossentropy
from tfllm.models.text_classifier import TextClassifier, symmetric_kl
from tfllm.tasks.text_classification import TextClassificationTask
from tfllm.training.optimizer import adamw_with_warmup

CLS, SEP, PAD = 101, 102, 0
IDS = tf.constant([CLS, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, SEP, 31, 32, 33, SEP])  # a text pair


def draws(augment, count=400):
    return [augment.token_ids(IDS, tf.constant([seed, 7], tf.int64)).numpy() for seed in range(count)]


def test_token_cutoff_hides_about_its_share_and_never_a_special_token():
    outputs = draws(TokenAugmentation(token_cutoff=0.3, protected_ids=[CLS, SEP, PAD], pad_id=PAD))
    special = np.isin(IDS.numpy(), [CLS, SEP])
    for out in outputs:
        assert out.shape == IDS.shape
        np.testing.assert_array_equal(out[special], IDS.numpy()[special])
        assert set(out[~special]) <= set(IDS.numpy()[~special]) | {PAD}
    hidden = np.mean([out[~special] == PAD for out in outputs])
    assert 0.25 < hidden < 0.35
    assert len({out.tobytes() for out in outputs}) > 300  # each seed draws anew


def test_span_cutoff_hides_one_run_of_its_share():
    augment = TokenAugmentation(span_cutoff=0.25, protected_ids=[CLS, SEP, PAD], pad_id=PAD)
    starts = collections.Counter()
    for out in draws(augment, 100):
        free = np.flatnonzero(~np.isin(IDS.numpy(), [CLS, SEP]))
        hidden = [i for i, position in enumerate(free) if out[position] == PAD]
        assert len(hidden) == round(0.25 * len(free))  # 13 free word pieces -> 3
        assert hidden == list(range(hidden[0], hidden[0] + len(hidden)))  # contiguous among the free ones
        starts[hidden[0]] += 1
    assert len(starts) > 5


def test_local_swaps_only_exchange_neighbours():
    augment = TokenAugmentation(local_swaps=0.3, protected_ids=[CLS, SEP, PAD], pad_id=PAD)
    moved = 0
    for out in draws(augment, 100):
        assert sorted(out) == sorted(IDS.numpy())
        for i in np.flatnonzero(out != IDS.numpy()):
            assert out[i] in (IDS.numpy()[i - 1], IDS.numpy()[i + 1])
            assert out[i] not in (CLS, SEP)
        moved += np.count_nonzero(out != IDS.numpy())
    assert moved > 0


def test_shares_outside_the_unit_interval_are_refused():
    with pytest.raises(ValueError, match="token_cutoff must be in"):
        TokenAugmentation(token_cutoff=1.0)


def test_keyword_hide_chances_follow_how_much_a_word_gives_its_label_away():
    # 30 texts of label 0, 10 of label 1, then 5 unlabeled. Piece 8 is in every text; 10 in half of
    # each label's texts (15 against 5: label sizes are evened out); 7 in every text of label 0 only;
    # 9 in two texts of label 1 only; 11 in unlabeled texts only.
    texts = [[8, 7] + ([10] if i % 2 else []) for i in range(30)]
    texts += [[8] + ([10] if i % 2 else []) + ([9] if i < 2 else []) for i in range(10)] + [[11, 7]] * 5
    labels = np.zeros([45, 2])
    labels[:30, 0] = labels[30:40, 1] = 1
    chances = keyword_hide_chances(tf.ragged.constant(texts), labels, 0.4)
    assert chances.shape == (12,) and chances.dtype == np.float32
    assert chances[8] == pytest.approx(0.0, abs=1e-6) and chances[10] == pytest.approx(0.0, abs=1e-6)
    assert chances[7] == pytest.approx(0.4 * 30 / 35)  # the unlabeled texts holding it do not count
    assert chances[9] == pytest.approx(0.4 * 2 / 7)  # a give-away, but seen in two texts only
    assert chances[11] == chances[0] == 0.0
    both = keyword_hide_chances(tf.ragged.constant([[5, 6], [5]]), np.array([[1, 1], [1, 0]]), 0.4, support=0.0)
    # Multi-hot: 5 is in every text of both labels; 6 in half of label 0's texts and all of label 1's.
    assert both[5] == pytest.approx(0.0, abs=1e-6) and both[6] == pytest.approx(0.4 * (2 / 3 - 1 / 2) / (1 / 2))


def test_keyword_cutoff_hides_the_words_that_decide_the_label(keras_hub_preset_dir):
    classifier = TextClassifier(load_bert(keras_hub_preset_dir, sequence_length=32), ["negative", "positive"])
    examples = sentiment_examples(200)
    token_ids, _, _ = classifier.pack(tf.constant([e.text for e in examples]))
    augment = classifier.token_augmentation({"keyword_cutoff": 0.4}, token_ids, classifier.encode_labels(examples))
    sentiment = set(classifier.preprocessor.tokenizer(tf.constant(POSITIVE + NEGATIVE)).flat_values.numpy())
    shown, hidden = collections.Counter(), collections.Counter()
    for row, ids in enumerate(token_ids[:100]):
        for seed in range(4):
            out = augment.token_ids(ids, tf.constant([row, seed], tf.int64)).numpy()
            assert out[0] == ids[0] and out[-1] == ids[-1]  # [CLS] and [SEP] stay
            for piece, kept in zip(ids.numpy()[1:-1], out[1:-1]):
                kind = "sentiment" if piece in sentiment else "filler"
                shown[kind] += 1
                hidden[kind] += kept == PAD
    assert hidden["sentiment"] / shown["sentiment"] > 0.25 and hidden["filler"] / shown["filler"] < 0.1, hidden
    with pytest.raises(ValueError, match="keyword_cutoff learns which words give a label away"):
        classifier.make_dataset(examples, training=True, labeled=False, augmentation={"keyword_cutoff": 0.4})


def test_augmented_training_batches_keep_their_count_and_evaluation_is_untouched(keras_hub_preset_dir):
    classifier = TextClassifier(load_bert(keras_hub_preset_dir, sequence_length=32), ["negative", "positive"])
    examples = sentiment_examples(70)
    plain = classifier.make_dataset(examples, batch_size=16, training=True, seed=3)
    augmentation = {"token_cutoff": 0.4, "span_cutoff": 0.0, "local_swaps": 0.0}
    augmented = classifier.make_dataset(examples, batch_size=16, training=True, seed=3, augmentation=augmentation)
    assert len(augmented) == len(plain) == sum(1 for _ in augmented)  # the schedule's count still holds
    epochs = [[features["padding_mask"].numpy().sum() for features, _ in augmented] for _ in range(2)]
    tokens = sum(features["padding_mask"].numpy().sum() for features, _ in plain)
    assert sum(epochs[0]) < 0.9 * tokens and epochs[0] != epochs[1]  # hidden pieces, drawn anew each epoch
    # Two datasets of one seed draw the same stream, epoch after epoch: what a resumed run replays.
    streams = [[features["token_ids"].numpy().tolist() for features, _ in classifier.make_dataset(
        examples, batch_size=16, training=True, seed=3, augmentation=augmentation).repeat().take(2 * len(plain))]
        for _ in range(2)]
    assert streams[0] == streams[1]
    evaluation = classifier.make_dataset(examples, batch_size=16, augmentation=augmentation)
    assert sum(features["padding_mask"].numpy().sum() for features, _ in evaluation) == tokens


def test_symmetric_kl_is_zero_only_for_equal_predictions():
    a = tf.constant([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    b = tf.constant([[0.0, 2.0, -1.0], [0.5, 0.5, 0.0]])
    assert float(symmetric_kl(a, a)) == pytest.approx(0.0, abs=1e-7)
    p, q = tf.nn.softmax(a[0]).numpy(), tf.nn.softmax(b[0]).numpy()
    expected = (np.sum(p * np.log(p / q)) + np.sum(q * np.log(q / p))) / 2 / 2  # mean of both ways, over 2 rows
    assert float(symmetric_kl(a, b)) == pytest.approx(expected, rel=1e-5)
    assert float(symmetric_kl(a, b, multi_label=True)) > 0


def consistency_losses(preset_dir, dropout, examples):
    """(plain loss, the loss with consistency 100) of one training batch's first pass. The weight is large
    so that the divergence (0.004-0.013 between two passes at dropout 0.5) outweighs the second pass's
    own loss, which may be lower than the first's."""
    keras.utils.set_random_seed(0)  # the same dropout draws whichever tests ran before in this process
    classifier = TextClassifier(load_bert(preset_dir, sequence_length=32, dropout=dropout),
                                ["negative", "positive"], dropout=dropout)
    features, labels = next(iter(classifier.make_dataset(examples, batch_size=32)))
    first = classifier(features, training=True)
    classifier.compile(consistency=0.0)
    plain = float(classifier.compute_loss(features, labels, first, training=True))
    classifier.compile(consistency=100.0)
    assert float(classifier.compute_loss(features, labels, first, training=False)) == pytest.approx(plain)
    return plain, float(classifier.compute_loss(features, labels, first, training=True))


def test_consistency_adds_the_divergence_of_two_dropout_passes(keras_hub_preset_dir):
    examples = sentiment_examples(32)
    plain, regularised = consistency_losses(keras_hub_preset_dir, 0.0, examples)
    assert regularised == pytest.approx(plain, abs=1e-6)  # without dropout both passes agree: nothing added
    plain, regularised = consistency_losses(keras_hub_preset_dir, 0.5, examples)
    assert regularised > plain + 0.1

    keras.utils.set_random_seed(0)
    classifier = TextClassifier(load_bert(keras_hub_preset_dir, sequence_length=32), ["negative", "positive"],
                                pooling="mean")
    data = classifier.make_dataset(sentiment_examples(160), batch_size=16, training=True, seed=0)
    classifier.compile(optimizer=adamw_with_warmup(3e-3, total_steps=len(data) * 5), consistency=1.0)
    history = classifier.fit(data, epochs=5, verbose=0).history
    assert history["loss"][-1] < 0.8 * history["loss"][0] and history["accuracy"][-1] > 0.8


def test_smoothed_crossentropy_is_the_cross_entropy_against_smoothed_targets():
    logits = tf.constant([[2.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    labels = tf.constant([0, 2])
    log_p = tf.nn.log_softmax(logits).numpy()
    targets = np.array([[0.8 + 0.2 / 3, 0.2 / 3, 0.2 / 3], [0.2 / 3, 0.2 / 3, 0.8 + 0.2 / 3]])
    expected = float(np.mean(-(targets * log_p).sum(axis=1)))
    assert float(SmoothedSparseCrossentropy(3, 0.2)(labels, logits)) == pytest.approx(expected, rel=1e-5)
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    assert float(SmoothedSparseCrossentropy(3, 0.0)(labels, logits)) == pytest.approx(float(plain), rel=1e-6)
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        SmoothedSparseCrossentropy(3, 1.0)


def test_label_smoothing_keeps_training_answers_off_certainty(keras_hub_preset_dir):
    """Two labels at smoothing 0.2: the loss is least at 0.9 on the label, where plain cross-entropy
    keeps pushing toward 1."""
    examples = sentiment_examples(160)
    confidence = {}
    for smoothing in (0.0, 0.2):
        keras.utils.set_random_seed(0)
        classifier = TextClassifier(load_bert(keras_hub_preset_dir, sequence_length=32), ["negative", "positive"],
                                    pooling="mean")
        data = classifier.make_dataset(examples, batch_size=16, training=True, seed=0)
        classifier.compile(optimizer=adamw_with_warmup(3e-3, total_steps=len(data) * 8), label_smoothing=smoothing)
        history = classifier.fit(data, epochs=8, verbose=0).history
        assert history["accuracy"][-1] > 0.9
        probabilities = classifier.predict_probabilities(examples)
        confidence[smoothing] = float(probabilities.max(axis=1).mean())
    assert confidence[0.2] < 0.93 < confidence[0.0], confidence


def test_the_augmentation_section_trains_from_the_command_line(keras_hub_preset_dir, tmp_path):
    rows = "\n".join(f"{e.text},{e.label}" for e in sentiment_examples(48))
    (tmp_path / "train.csv").write_text("text,label\n" + rows + "\n")
    config = bert_job_config(tmp_path, "augmented", "text_classification", keras_hub_preset_dir, 32,
                             {"train": "train.csv"}, {"epochs": 1})
    sets = ["--set", "augmentation.token_cutoff=0.1", "--set", "augmentation.local_swaps=0.1",
            "--set", "augmentation.consistency=1.0", "--set", "augmentation.label_smoothing=0.1",
            "--set", "augmentation.keyword_cutoff=0.2"]
    result = run_tfllm("train", config, *sets)
    assert result.returncode == 0, result.stderr
    recorded = (tmp_path / "run" / "config.yaml").read_text()
    assert "augmentation:" in recorded and "consistency: 1.0" in recorded and "label_smoothing: 0.1" in recorded
    compiled_with = TextClassificationTask().compile_options(load_config(str(config), sets[1::2]))
    assert compiled_with == {"consistency": 1.0, "label_smoothing": 0.1}  # what the runner passes to compile
    augmented_with = TextClassificationTask().augmentation(load_config(str(config), sets[1::2]))
    assert augmented_with == {"token_cutoff": 0.1, "span_cutoff": 0.0, "local_swaps": 0.1, "keyword_cutoff": 0.2}
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert np.isfinite(history["loss"][0])

    result = run_tfllm("train", config, "--set", "augmentation.span_cutoff=0.9")
    assert result.returncode != 0 and "augmentation.span_cutoff: must be at most 0.5" in result.stderr
    tagger = bert_job_config(tmp_path, "tagger", "token_classification", keras_hub_preset_dir, 32,
                             {"train": "train.jsonl"}, {"epochs": 1})
    result = run_tfllm("train", tagger, "--set", "augmentation.token_cutoff=0.1")
    assert result.returncode != 0 and "has no section 'augmentation'" in result.stderr
