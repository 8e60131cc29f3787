"""Writes a native BERT backbone out as TF-Hub-format encoder and preprocess SavedModels.

The encoder has the Model Garden `BertEncoder` variable names (see `tf_hub_bert_layout`) and the TF-Hub
calling convention: `encoder(dict(input_word_ids=, input_mask=, input_type_ids=), training=)` returns
`pooled_output`, `sequence_output`, `encoder_outputs` (one tensor per layer) and `default`. Its forward
pass is written in plain TensorFlow ops, so the SavedModel loads with TensorFlow alone, like the ones on
tfhub.dev. The preprocess model offers `tokenize`, `bert_pack_inputs` (traced for one `seq_length`, as
on TF-Hub) and a default call that packs to that length; its vocabulary is `assets/vocab.txt`.
"""

import os
import tempfile

import tensorflow as tf
import tensorflow_text as tf_text

from tfllm import storage
from tfllm.backbones.tf_hub_bert_layout import tf_hub_bert_variables
from tfllm.text.vocabulary import special_token_ids
from tfllm.text.wordpiece_tokenizer import WordPieceTokenizer

_LAYER_NORM_EPSILON = 1e-12  # as in BERT, the Model Garden and KerasHub


def _layer_norm(x, gamma, beta):
    mean, variance = tf.nn.moments(x, axes=[-1], keepdims=True)
    return gamma * (x - mean) * tf.math.rsqrt(variance + _LAYER_NORM_EPSILON) + beta


class _TFHubBertEncoder(tf.__internal__.tracking.AutoTrackable):
    # Not a tf.Module: the Reusable SavedModel API wants plain `variables`, `trainable_variables` and
    # `regularization_losses` attributes, which tf.Module keeps as (unsaved) properties.
    def __init__(self, values, num_layers, num_heads, dropout):
        self.num_layers, self.num_heads, self.dropout = num_layers, num_heads, dropout
        self.variables = [tf.Variable(value, name=name) for name, value in values.items()]
        self.trainable_variables = list(self.variables)
        self.regularization_losses = []
        self._by_name = dict(zip(values, self.variables))

    def _dropout(self, x, training):
        return tf.nn.dropout(x, rate=self.dropout) if training and self.dropout else x

    def _encode(self, inputs, training):
        v = self._by_name
        word_ids, mask, type_ids = inputs["input_word_ids"], inputs["input_mask"], inputs["input_type_ids"]
        length = tf.shape(word_ids)[1]
        x = (
            tf.gather(v["word_embeddings/embeddings"], word_ids)
            + v["position_embedding/embeddings"][tf.newaxis, :length]
            + tf.gather(v["type_embeddings/embeddings"], type_ids)
        )
        x = self._dropout(_layer_norm(x, v["embeddings/layer_norm/gamma"], v["embeddings/layer_norm/beta"]), training)
        # Padded keys get a large negative score, as in Keras' masked softmax.
        score_bias = (1.0 - tf.cast(mask, x.dtype))[:, tf.newaxis, tf.newaxis, :] * -1e9
        layer_outputs = []
        for i in range(self.num_layers):
            p = lambda suffix: v[f"transformer/layer_{i}/{suffix}"]  # noqa: E731
            project = lambda name: tf.einsum("btd,dnh->btnh", x, p(f"self_attention/{name}/kernel")) + p(  # noqa: E731
                f"self_attention/{name}/bias"
            )
            query, key, value = project("query"), project("key"), project("value")
            head_dim = tf.cast(tf.shape(query)[-1], x.dtype)
            scores = tf.einsum("bsnh,btnh->bnts", key, query) / tf.sqrt(head_dim) + score_bias
            probabilities = self._dropout(tf.nn.softmax(scores, axis=-1), training)
            context = tf.einsum("bnts,bsnh->btnh", probabilities, value)
            attention = tf.einsum("btnh,nhd->btd", context, p("self_attention/attention_output/kernel"))
            attention = self._dropout(attention + p("self_attention/attention_output/bias"), training)
            x = _layer_norm(x + attention, p("self_attention_layer_norm/gamma"), p("self_attention_layer_norm/beta"))
            hidden = tf.nn.gelu(tf.matmul(x, p("intermediate/kernel")) + p("intermediate/bias"), approximate=True)
            output = self._dropout(tf.matmul(hidden, p("output/kernel")) + p("output/bias"), training)
            x = _layer_norm(x + output, p("output_layer_norm/gamma"), p("output_layer_norm/beta"))
            layer_outputs.append(x)
        pooled = tf.tanh(tf.matmul(x[:, 0], v["pooler_transform/kernel"]) + v["pooler_transform/bias"])
        return {"pooled_output": pooled, "sequence_output": x, "encoder_outputs": layer_outputs, "default": pooled}

    @tf.function
    def __call__(self, inputs, training=False):
        return self._encode(inputs, training)

    @tf.function(input_signature=[{
        name: tf.TensorSpec([None, None], tf.int32, name=name)
        for name in ("input_word_ids", "input_mask", "input_type_ids")
    }])
    def serve(self, inputs):
        # A signature cannot return a list, so it offers the pooled and sequence outputs only.
        outputs = self._encode(inputs, training=False)
        return {"pooled_output": outputs["pooled_output"], "sequence_output": outputs["sequence_output"]}


class _TFHubBertPreprocess(tf.Module):
    def __init__(self, vocabulary_file, lowercase, seq_length):
        super().__init__(name="bert_preprocess")
        ids = special_token_ids(vocabulary_file)
        self._cls_id, self._sep_id, self._pad_id = ids["[CLS]"], ids["[SEP]"], ids["[PAD]"]
        self.seq_length = seq_length
        self._tokenizer = WordPieceTokenizer(vocabulary_file, lowercase=lowercase)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def tokenize(self, texts):
        return self._tokenizer.tokenize_words(texts)

    @tf.function
    def bert_pack_inputs(self, segments, seq_length):
        segments = [s.merge_dims(-2, -1) for s in segments]
        segments = tf_text.RoundRobinTrimmer(max_seq_length=seq_length - len(segments) - 1).trim(segments)
        ids, type_ids = tf_text.combine_segments(segments, self._cls_id, self._sep_id)
        word_ids, mask = tf_text.pad_model_inputs(ids, max_seq_length=seq_length, pad_value=self._pad_id)
        type_ids, _ = tf_text.pad_model_inputs(type_ids, max_seq_length=seq_length)
        return {"input_word_ids": word_ids, "input_mask": mask, "input_type_ids": type_ids}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, texts):
        return self.bert_pack_inputs([self.tokenize(texts)], seq_length=self.seq_length)


def _save_replacing(module, directory, signatures=None):
    # A new export replaces an old one, which is removed only once the new one is written.
    with storage.published_directory(directory, replace=True) as staging:
        tf.saved_model.save(module, staging, signatures=signatures)


def export_tf_hub_bert(backbone, vocabulary_file, lowercase, encoder_dir, preprocess_dir, seq_length=128,
                       dropout=None):
    """Writes `backbone` (a KerasHub `BertBackbone`) as TF-Hub-format encoder and preprocess SavedModels.

    Args:
        backbone: the native backbone whose weights are written.
        vocabulary_file: its WordPiece vocabulary.
        lowercase: whether the preprocess model lower-cases (uncased models).
        encoder_dir, preprocess_dir: where the two SavedModels go; each appears whole or not at all.
        seq_length: the length the preprocess model's default call packs to.
        dropout: dropout rate used when called with `training=True` (default: the backbone's).

    Example (not run by the test command: it needs a loaded backbone):
    >>> export_tf_hub_bert(backbone, "vocab.txt", True, "out/encoder", "out/preprocess")  # doctest: +SKIP
    """
    values = {name: variable.numpy() for name, variable in tf_hub_bert_variables(backbone).items()}
    encoder = _TFHubBertEncoder(values, backbone.num_layers, backbone.num_heads,
                                backbone.dropout if dropout is None else dropout)
    spec = {name: tf.TensorSpec([None, None], tf.int32, name=name)
            for name in ("input_word_ids", "input_mask", "input_type_ids")}
    for training in (False, True):
        encoder.__call__.get_concrete_function(spec, training=training)
    _save_replacing(encoder, encoder_dir, signatures={"serving_default": encoder.serve})

    with tempfile.TemporaryDirectory() as scratch:
        # TF-Hub preprocess models keep their vocabulary as assets/vocab.txt; assets keep their file name.
        vocab_copy = os.path.join(scratch, "vocab.txt")
        tf.io.gfile.copy(vocabulary_file, vocab_copy)
        preprocess = _TFHubBertPreprocess(vocab_copy, lowercase, seq_length)
        ragged = tf.RaggedTensorSpec([None, None, None], tf.int32, ragged_rank=2)
        for count in (1, 2):
            preprocess.bert_pack_inputs.get_concrete_function([ragged] * count, seq_length=seq_length)
        _save_replacing(preprocess, preprocess_dir, signatures={"serving_default": preprocess.__call__})
