import importlib
import os
import shutil

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from conftest import FILLER, TINY, VOCABULARY, sentiment_examples
from tfllm.backbones import DEFAULT_BACKBONE, TFHubEncoder, embedded_default_path, load_bert, load_tf_hub_saved_model
from tfllm.data.examples import TextExample
from tfllm.models.text_classifier import TextClassifier
from tfllm.training.optimizer import adamw_with_warmup

TEXTS = tf.constant(["the movie was good !", "awful plot", "", "好电影"])


def test_tf_hub_fixture_has_model_garden_layout(tf_hub_dirs):
    encoder, _ = load_tf_hub_saved_model(tf_hub_dirs[0])
    names = {v.name for v in encoder.variables}
    last = TINY["num_layers"] - 1
    assert {"word_embeddings/embeddings:0", f"transformer/layer_{last}/self_attention/attention_output/kernel:0",
            "transformer/layer_0/output_layer_norm/gamma:0", "pooler_transform/kernel:0"} <= names
    assert len(encoder.trainable_variables) == len(encoder.variables) == 5 + 16 * TINY["num_layers"] + 2


def test_native_conversion_matches_the_hub_encoder(tf_hub_dirs):
    encoder_dir, preprocess_dir, _ = tf_hub_dirs
    native = load_bert(encoder_dir, preprocess=preprocess_dir, native=True)
    wrapped = load_bert(encoder_dir, preprocess=preprocess_dir, native=False)
    assert type(native.backbone).__name__ == "BertBackbone" and isinstance(wrapped.backbone, TFHubEncoder)
    features = native.preprocessor(TEXTS)
    hub_outputs = load_tf_hub_saved_model(encoder_dir)[0](
        {"input_word_ids": features["token_ids"], "input_mask": features["padding_mask"],
         "input_type_ids": features["segment_ids"]}, training=False)
    mask = features["padding_mask"].numpy().astype(bool)
    for outputs in (native.backbone(features), wrapped.backbone(features)):
        np.testing.assert_allclose(outputs["pooled_output"], hub_outputs["pooled_output"], atol=1e-5)
        np.testing.assert_allclose(outputs["sequence_output"].numpy()[mask],
                                   hub_outputs["sequence_output"].numpy()[mask], atol=1e-5)


def test_int8_weights_and_students_need_the_native_backbone(tf_hub_dirs):
    from tfllm import build_text_classifier, quantize_backbone, student_of

    wrapped = build_text_classifier(tf_hub_dirs[0], ["a", "b"], sequence_length=16, preprocess=tf_hub_dirs[1],
                                    native=False)
    with pytest.raises(ValueError, match="int8 weights need a native Keras backbone, not TFHubEncoder.*native: true"):
        quantize_backbone(wrapped)
    with pytest.raises(ValueError, match="native Keras backbone, not TFHubEncoder.*native: true"):
        student_of(wrapped, 1)


def test_hub_preprocess_tokenizes_like_the_vocabulary(tf_hub_dirs, vocabulary_file):
    from tfllm.text.bert_preprocessor import BertPreprocessor

    hub = load_bert(tf_hub_dirs[0], preprocess=tf_hub_dirs[1]).preprocessor
    own = BertPreprocessor.from_vocabulary(vocabulary_file)
    assert hub(TEXTS)["token_ids"].numpy().tolist() == own(TEXTS)["token_ids"].numpy().tolist()


def _rewritten_checkpoint(source, target, rename=lambda name: name, drop=()):
    """A copy of an HF checkpoint dir with its tensors renamed or dropped."""
    from safetensors.numpy import load_file, save_file

    shutil.copytree(source, target)
    tensors = load_file(os.path.join(source, "model.safetensors"))
    save_file({rename(name): tensor for name, tensor in tensors.items() if name not in drop},
              os.path.join(target, "model.safetensors"))
    return str(target)


def _task_model_names(name):
    """BertFor... checkpoints keep the encoder under `bert.`; older ones name LayerNorm gamma/beta."""
    name = name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
    return "bert." + name


@pytest.mark.parametrize("naming", ["bert_model", "task_model"])
def test_hf_checkpoint_loads_with_its_weights(hf_checkpoint_dir, tmp_path, naming):
    directory, reference = hf_checkpoint_dir
    if naming == "task_model":
        directory = _rewritten_checkpoint(directory, tmp_path / "task", _task_model_names)
    bert = load_bert(directory)
    features = bert.preprocessor(TEXTS)
    np.testing.assert_allclose(bert.backbone(features)["pooled_output"], reference(features)["pooled_output"],
                               atol=1e-5)


def test_hf_checkpoint_with_a_missing_tensor_is_named(hf_checkpoint_dir, tmp_path):
    directory = _rewritten_checkpoint(hf_checkpoint_dir[0], tmp_path / "broken",
                                      drop={"encoder.layer.0.output.dense.bias"})
    with pytest.raises(ValueError, match=r"broken/model.safetensors: missing tensor 'encoder.layer.0.output.dense.bias'"):
        load_bert(directory)


def test_embedded_default_matches_keras_hub_converter():
    """Our reader and KerasHub's own converter agree on all-MiniLM-L6-v2, where that converter can read it."""
    if not hasattr(importlib.import_module("keras_hub.src.utils.transformers.convert_bert"), "load_task_config"):
        pytest.skip(f"keras-hub {keras_hub.__version__} cannot read sentence-transformers checkpoints (0.26+ can)")
    directory = embedded_default_path()
    ours = load_bert(DEFAULT_BACKBONE)
    theirs = keras_hub.models.BertBackbone.from_preset(directory)
    features = ours.preprocessor(TEXTS)
    np.testing.assert_allclose(ours.backbone(features)["sequence_output"], theirs(features)["sequence_output"],
                               atol=1e-5)


def fit_once(bert, epochs=6):
    classifier = TextClassifier(bert, ["negative", "positive"], pooling="mean")
    data = classifier.make_dataset(sentiment_examples(96), batch_size=16, training=True, seed=0)
    classifier.compile(optimizer=adamw_with_warmup(3e-3, total_steps=6 * epochs))
    encoder_weights = [w.numpy().copy() for w in bert.backbone.trainable_weights]
    history = classifier.fit(data, epochs=epochs, verbose=0)
    unchanged = [weight.path for before, weight in zip(encoder_weights, bert.backbone.trainable_weights)
                 if np.allclose(before, weight.numpy())]
    return history.history["loss"], len(encoder_weights), unchanged


@pytest.mark.parametrize("source", ["keras_hub_preset", "hf_checkpoint", "tf_hub_native", "tf_hub_wrapped"])
def test_fit_lowers_loss_and_trains_the_encoder(source, keras_hub_preset_dir, hf_checkpoint_dir, tf_hub_dirs):
    bert = {
        "keras_hub_preset": lambda: load_bert(keras_hub_preset_dir),
        "hf_checkpoint": lambda: load_bert(hf_checkpoint_dir[0]),
        "tf_hub_native": lambda: load_bert(tf_hub_dirs[0], preprocess=tf_hub_dirs[1], native=True),
        "tf_hub_wrapped": lambda: load_bert(tf_hub_dirs[0], preprocess=tf_hub_dirs[1], native=False),
    }[source]()
    losses, count, unchanged = fit_once(bert)
    assert losses[-1] < losses[0] * 0.8, losses
    # Every encoder weight trains but two that get no gradient: the [CLS] pooler (unused by mean pooling)
    # and attention key biases (they add the same score to every key, which softmax cancels).
    assert count > 16 * TINY["num_layers"] and all("pool" in p or ("key" in p and "bias" in p) for p in unchanged), unchanged


def test_unknown_tf_hub_address_needs_its_preprocess_model():
    with pytest.raises(ValueError, match="matching preprocess model"):
        load_bert("https://tfhub.dev/someone/some_encoder/1")


def test_handles_resolve_names_addresses_and_kaggle_handles():
    from tfllm.backbones.tf_hub_handles import is_tf_hub_source, resolve_tf_hub_handles

    encoder, preprocess = resolve_tf_hub_handles("small_bert/bert_en_uncased_L-4_H-512_A-8")
    assert encoder == "https://tfhub.dev/tensorflow/small_bert/bert_en_uncased_L-4_H-512_A-8/2"
    assert preprocess == "https://tfhub.dev/tensorflow/bert_en_uncased_preprocess/3"
    assert resolve_tf_hub_handles("bert_zh_L-12_H-768_A-12")[1].endswith("/bert_zh_preprocess/3")
    kaggle = "tensorflow/bert/tensorFlow2/en-uncased-l-12-h-768-a-12/3"
    assert is_tf_hub_source(kaggle) and not is_tf_hub_source("bert_base_en")  # the latter is a KerasHub preset
    assert resolve_tf_hub_handles(kaggle, preprocess="tensorflow/bert/tensorFlow2/en-uncased-preprocess/3") == (
        f"https://www.kaggle.com/models/{kaggle}",
        "https://www.kaggle.com/models/tensorflow/bert/tensorFlow2/en-uncased-preprocess/3")


def test_added_characters_get_tokens_of_their_own_that_fine_tuning_learns(tmp_path):
    # Two intents told apart only by Chinese characters that the vocabulary lacks: as [UNK] they read alike.
    vocabulary = [*VOCABULARY, *(f"[unused{i}]" for i in range(4, 16))]
    (tmp_path / "vocab.txt").write_text("\n".join(vocabulary) + "\n", encoding="utf-8")
    preset = str(tmp_path / "preset")
    keras.utils.set_random_seed(0)
    keras_hub.models.BertBackbone(vocabulary_size=len(vocabulary), **TINY).save_to_preset(preset)
    keras_hub.models.BertTokenizer(vocabulary=str(tmp_path / "vocab.txt"), lowercase=True).save_to_preset(preset)
    rng = np.random.default_rng(0)
    examples = [TextExample(f"{' '.join(rng.choice(FILLER[:9], 3))} {word}", label=label)
                for word, label in [("退款", "refund"), ("取消", "cancel")] * 40]

    def accuracy(add_characters):
        bert = load_bert(preset, sequence_length=16)
        added = bert.add_characters([e.text for e in examples], str(tmp_path / "tokenizer")) if add_characters else []
        classifier = TextClassifier(bert, ["cancel", "refund"], pooling="mean")
        data = classifier.make_dataset(examples, batch_size=16, training=True, seed=0)
        classifier.compile(optimizer=adamw_with_warmup(3e-3, total_steps=len(data) * 4))
        classifier.fit(data, epochs=4, verbose=0)
        answers = classifier.predict(["the movie 退款", "the movie 取消"])
        return added, [answer["label"] for answer in answers], classifier

    added, labels, classifier = accuracy(add_characters=True)
    assert added == ["取", "款", "消", "退"] and labels == ["refund", "cancel"]
    assert classifier.preprocessor.tokenizer(tf.constant(["退款"])).to_list() == [[vocabulary.index("[unused13]"),
                                                                                  vocabulary.index("[unused11]")]]
    classifier.save_to_dir(str(tmp_path / "model"))
    restored = TextClassifier.load(str(tmp_path / "model"))
    assert [answer["label"] for answer in restored.predict(["the movie 退款", "the movie 取消"])] == labels
    _, labels_without, _ = accuracy(add_characters=False)
    assert len(set(labels_without)) == 1  # the same [UNK]s in, the same answer out


def test_added_characters_need_a_vocabulary_tfllm_can_rewrite(tf_hub_dirs, tmp_path):
    bert = load_bert(tf_hub_dirs[0], preprocess=tf_hub_dirs[1])
    with pytest.raises(ValueError, match="not a TF-Hub source"):
        bert.add_characters(["退款"], str(tmp_path))
