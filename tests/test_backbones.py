import numpy as np
import pytest
import tensorflow as tf

from conftest import sentiment_examples
from tfllm.backbones import TFHubEncoder, load_backbone, load_tf_hub_saved_model
from tfllm.tasks.text_classifier import TextClassifier
from tfllm.training.optimizer import adamw_with_warmup

TEXTS = tf.constant(["the movie was good !", "awful plot", "", "好电影"])


def test_tf_hub_fixture_has_model_garden_layout(tf_hub_dirs):
    encoder, _ = load_tf_hub_saved_model(tf_hub_dirs[0])
    names = {v.name for v in encoder.variables}
    assert {"word_embeddings/embeddings:0", "transformer/layer_1/self_attention/attention_output/kernel:0",
            "transformer/layer_0/output_layer_norm/gamma:0", "pooler_transform/kernel:0"} <= names
    assert len(encoder.trainable_variables) == len(encoder.variables) == 5 + 16 * 2 + 2


def test_native_conversion_matches_the_hub_encoder(tf_hub_dirs):
    encoder_dir, preprocess_dir, _ = tf_hub_dirs
    native = load_backbone(encoder_dir, preprocess=preprocess_dir, native=True)
    wrapped = load_backbone(encoder_dir, preprocess=preprocess_dir, native=False)
    assert type(native.layer).__name__ == "BertBackbone" and isinstance(wrapped.layer, TFHubEncoder)
    features = native.preprocessor(TEXTS)
    hub_outputs = load_tf_hub_saved_model(encoder_dir)[0](
        {"input_word_ids": features["token_ids"], "input_mask": features["padding_mask"],
         "input_type_ids": features["segment_ids"]}, training=False)
    mask = features["padding_mask"].numpy().astype(bool)
    for outputs in (native.layer(features), wrapped.layer(features)):
        np.testing.assert_allclose(outputs["pooled_output"], hub_outputs["pooled_output"], atol=1e-5)
        np.testing.assert_allclose(outputs["sequence_output"].numpy()[mask],
                                   hub_outputs["sequence_output"].numpy()[mask], atol=1e-5)


def test_hub_preprocess_tokenizes_like_the_vocabulary(tf_hub_dirs, vocabulary_file):
    from tfllm.text.bert_preprocessor import BertPreprocessor

    hub = load_backbone(tf_hub_dirs[0], preprocess=tf_hub_dirs[1]).preprocessor
    own = BertPreprocessor.from_vocabulary(vocabulary_file)
    assert hub(TEXTS)["token_ids"].numpy().tolist() == own(TEXTS)["token_ids"].numpy().tolist()


def test_hf_checkpoint_loads_with_its_weights(hf_checkpoint_dir):
    directory, reference = hf_checkpoint_dir
    backbone = load_backbone(directory)
    features = backbone.preprocessor(TEXTS)
    np.testing.assert_allclose(backbone.layer(features)["pooled_output"], reference(features)["pooled_output"],
                               atol=1e-5)


def fit_once(backbone, epochs=6):
    classifier = TextClassifier(backbone, ["negative", "positive"], pooling="mean")
    data = classifier.make_dataset(sentiment_examples(96), batch_size=16, training=True, seed=0)
    classifier.compile(optimizer=adamw_with_warmup(3e-3, total_steps=6 * epochs))
    encoder_weights = [w.numpy().copy() for w in backbone.layer.trainable_weights]
    history = classifier.fit(data, epochs=epochs, verbose=0)
    unchanged = [weight.path for before, weight in zip(encoder_weights, backbone.layer.trainable_weights)
                 if np.allclose(before, weight.numpy())]
    return history.history["loss"], len(encoder_weights), unchanged


@pytest.mark.parametrize("source", ["keras_hub_preset", "hf_checkpoint", "tf_hub_native", "tf_hub_wrapped"])
def test_fit_lowers_loss_and_trains_the_encoder(source, keras_hub_preset_dir, hf_checkpoint_dir, tf_hub_dirs):
    backbone = {
        "keras_hub_preset": lambda: load_backbone(keras_hub_preset_dir),
        "hf_checkpoint": lambda: load_backbone(hf_checkpoint_dir[0]),
        "tf_hub_native": lambda: load_backbone(tf_hub_dirs[0], preprocess=tf_hub_dirs[1], native=True),
        "tf_hub_wrapped": lambda: load_backbone(tf_hub_dirs[0], preprocess=tf_hub_dirs[1], native=False),
    }[source]()
    losses, count, unchanged = fit_once(backbone)
    assert losses[-1] < losses[0] * 0.8, losses
    # Every encoder weight trains but two that get no gradient: the [CLS] pooler (unused by mean pooling)
    # and attention key biases (they add the same score to every key, which softmax cancels).
    assert count > 30 and all("pool" in p or ("key" in p and "bias" in p) for p in unchanged), unchanged


def test_unknown_tf_hub_address_needs_its_preprocess_model():
    with pytest.raises(ValueError, match="matching preprocess model"):
        load_backbone("https://tfhub.dev/someone/some_encoder/1")


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
