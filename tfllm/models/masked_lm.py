"""Masked-LM pretraining of a BERT backbone, from scratch or continued on a user's own text."""

import os

import keras
import keras_hub
import numpy as np
import tensorflow as tf

from tfllm.backbones.sources import set_pooler_trainable
from tfllm.data.next_sentence_pairs import next_sentence_pairs
from tfllm.data.pipeline import batch_packed_inputs
from tfllm.models.bert_task import BertTaskModel
from tfllm.models.masked_lm_serving import MaskedLMServer
from tfllm.models.task_fit import TaskFit
from tfllm.models.task_server import cached_server
from tfllm.text.masked_lm_masker import MaskedLMMasker
from tfllm.text.vocabulary import read_vocabulary
from tfllm.text.wordpiece_tokenizer import WordPieceTokenizer
from tfllm.text.windows import sliding_windows

FEATURE_NAMES = ("token_ids", "segment_ids", "padding_mask")
_WEIGHTS_FILE = "masked_lm.weights.h5"  # beside the preset's backbone weights


class MaskedLM(BertTaskModel, TaskFit, keras.Model):
    """A native BERT backbone under BERT's masked-LM head, whose output layer is the token embedding.

    Training reads text, cuts it into windows of `sequence_length` tokens (so no text is lost to
    truncation and no batch is mostly padding) and masks each batch anew as it is drawn (see
    `MaskedLMMasker`: 15%, the 80/10/10 rule, whole words as an option). The loss is the cross-entropy
    over the masked tokens only; perplexity is its exponential. With `next_sentence`, the model also
    learns BERT's next-sentence prediction on pairs of neighbouring sentences (half of them with a
    sentence of another text instead), from the [CLS] pooler; RoBERTa found it adds little.

    The trained backbone is the product: `save_to_dir` writes it as a KerasHub preset dir that every
    task takes as `backbone.source` (and `tfllm convert` turns into TF-Hub-format SavedModels).

    Args:
        bert: a `Bert` (`tfllm.backbones.load_bert`, or `bert_from_scratch`) whose backbone is a
            KerasHub `BertBackbone` with a WordPiece tokenizer: every source but wrapped TF-Hub encoders.
        max_predictions: the most masked tokens per window.
        whole_word: mask whole words.
        mask_rate: the share of tokens (or words) masked.
        next_sentence: also train next-sentence prediction.

    Example (not run by the test command: it trains a model):
    >>> lm = MaskedLM(bert_from_scratch("mini", "vocab.txt", sequence_length=128))  # doctest: +SKIP
    >>> lm.compile(optimizer=adamw_with_warmup(1e-3, total_steps=10000))  # doctest: +SKIP
    >>> lm.fit(lm.make_dataset(texts, batch_size=64, training=True), epochs=5)  # doctest: +SKIP
    >>> lm.save_to_dir("runs/mlm/model")  # doctest: +SKIP
    """

    def __init__(self, bert, max_predictions=20, whole_word=False, mask_rate=0.15, next_sentence=False,
                 **kwargs):
        layer = bert.backbone
        if not isinstance(layer, keras_hub.models.BertBackbone):
            raise ValueError("masked-LM training needs a native BERT backbone (a KerasHub BertBackbone); "
                             f"this source gave {type(layer).__name__}")
        tokenizer = bert.preprocessor.tokenizer
        if not isinstance(tokenizer, WordPieceTokenizer):
            raise ValueError("masked-LM training needs a WordPiece vocabulary file; this backbone's text goes "
                             "through a TF-Hub preprocess model")
        set_pooler_trainable(layer, next_sentence)  # only next-sentence prediction trains the [CLS] pooler
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in FEATURE_NAMES}
        inputs["mask_positions"] = keras.Input(shape=(None,), dtype="int32", name="mask_positions")
        outputs = layer({name: inputs[name] for name in FEATURE_NAMES})
        head = keras_hub.layers.MaskedLMHead(
            vocabulary_size=layer.vocabulary_size, token_embedding=layer.token_embedding,
            intermediate_activation="gelu", kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype="float32", name="mlm_head")  # float32 logits keep the loss stable under mixed precision
        logits = head(outputs["sequence_output"], mask_positions=inputs["mask_positions"])
        if next_sentence:
            is_next = keras.layers.Dense(2, dtype="float32", name="nsp_head")(outputs["pooled_output"])
            logits = {"mlm": logits, "nsp": is_next}
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.next_sentence = next_sentence
        self.backbone = layer
        self.preprocessor = bert.preprocessor
        self.masker = MaskedLMMasker(tokenizer.vocabulary_file, mask_rate, max_predictions, whole_word)

    def compile(self, optimizer="adamw", **kwargs):
        """Compiles with cross-entropy averaged over the masked tokens, their accuracy, and perplexity; with
        next-sentence prediction, plus its cross-entropy and accuracy (metrics `mlm_...` and `nsp_...`)."""
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="mean_with_sample_weight")
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
                   keras_hub.metrics.Perplexity(from_logits=True, name="perplexity")]
        if self.next_sentence:
            loss = {"mlm": loss, "nsp": keras.losses.SparseCategoricalCrossentropy(from_logits=True)}
            metrics = {"mlm": metrics, "nsp": [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]}
        super().compile(optimizer=optimizer, loss=loss, weighted_metrics=metrics, **kwargs)

    def windows(self, texts):
        """Packs texts into ragged (token_ids, segment_ids): each text cut into windows of `sequence_length`
        tokens, [CLS] and [SEP] included."""
        tokens = self.preprocessor.tokenizer(tf.constant(texts, tf.string))
        window = self.preprocessor.sequence_length - 2
        pieces, _, _ = sliding_windows(tokens, window, window)
        return self.preprocessor.packer([pieces])

    def sentence_pairs(self, texts, seed=0):
        """Packs texts into ragged (token_ids, segment_ids) of neighbouring sentence pairs, [CLS] a [SEP] b [SEP],
        and whether b follows a (see `next_sentence_pairs`)."""
        firsts, seconds, is_next = zip(*next_sentence_pairs(texts, seed))
        token_ids, segment_ids = self.preprocessor.pack(tf.constant(firsts), tf.constant(seconds))
        return token_ids, segment_ids, np.array(is_next, np.int32)

    def make_dataset(self, texts, batch_size=32, training=False, fixed_length=False, seed=None):
        """Batches of (features with `mask_positions`, targets, weights) from raw texts.

        The targets are the masked tokens' ids (weights: 1 for each real prediction), or with
        next-sentence prediction {"mlm": those ids, "nsp": is_next} (weights {"mlm": ..., "nsp": 1}).
        Texts are tokenized once; the masks are drawn per batch, so every epoch masks differently. An
        evaluation dataset (`training=False`) draws its masks once and repeats them.
        """
        if self.next_sentence:
            token_ids, segment_ids, is_next = self.sentence_pairs(list(texts), seed or 0)
        else:
            token_ids, segment_ids = self.windows(list(texts))
            is_next = np.zeros(int(token_ids.nrows()), np.int32)
        if token_ids.nrows() == 0:
            raise ValueError("no text to train a masked LM on")
        data = batch_packed_inputs(token_ids, segment_ids, is_next, self.preprocessor, batch_size, shuffle=training,
                                   fixed_length=fixed_length, drop_remainder=fixed_length and training, seed=seed)
        pad_id = self.preprocessor.pad_id

        def mask(features, is_next):
            lengths = tf.reduce_sum(features["padding_mask"], axis=1)
            masked = self.masker(tf.RaggedTensor.from_tensor(features["token_ids"], lengths=lengths))
            token_ids = masked.pop("token_ids").to_tensor(pad_id, shape=tf.shape(features["token_ids"]))
            features = {**features, "token_ids": token_ids, "mask_positions": masked["mask_positions"]}
            if self.next_sentence:
                return (features, {"mlm": masked["mask_ids"], "nsp": is_next},
                        {"mlm": masked["mask_weights"], "nsp": tf.ones_like(is_next, tf.float32)})
            return features, masked["mask_ids"], masked["mask_weights"]

        data = data.map(mask, num_parallel_calls=tf.data.AUTOTUNE)
        return data.prefetch(tf.data.AUTOTUNE) if training else data.cache()

    def server(self):
        """The serving module: texts with [MASK] in, the likeliest tokens for each mask out (`MaskedLMServer`)."""
        return cached_server(self, lambda: MaskedLMServer(self))

    def head_config(self):
        return {"max_predictions": self.masker.max_predictions, "whole_word": self.masker.whole_word,
                "mask_rate": self.masker.rate, "next_sentence": self.next_sentence}

    def write_assets(self, local):
        """Writes the backbone and its vocabulary as a KerasHub preset, which every task loads as
        `backbone.source` and `tfllm convert` writes as TF-Hub SavedModels; the config names its vocabulary."""
        tokenizer = self.preprocessor.tokenizer
        self.backbone.save_to_preset(local)
        keras_hub.models.BertTokenizer(vocabulary=read_vocabulary(tokenizer.vocabulary_file),
                                       lowercase=tokenizer.lowercase).save_to_preset(local)
        config = self.get_config()
        config["backbone"]["tokenizer"]["wordpiece_vocabulary"] = "assets/tokenizer/vocabulary.txt"
        return config

    def write_weights(self, local):
        self.save_weights(os.path.join(local, _WEIGHTS_FILE))  # the whole model: the masked-LM head too
        return _WEIGHTS_FILE
