"""Text classification on a BERT backbone: single-label, multi-label and sentence pairs."""

import keras
import numpy as np
import tensorflow as tf

from tfllm.backbones.sources import load_bert, set_pooler_trainable
from tfllm.data.augmentation import TokenAugmentation, keyword_hide_chances
from tfllm.data.examples import DataError, TextExample
from tfllm.data.labels import LabelSet
from tfllm.data.pipeline import batch_packed_inputs
from tfllm.layers.marker_pooling import MarkerPooling
from tfllm.layers.masked_mean_pooling import MaskedMeanPooling
from tfllm.models.bert_task import BertTaskModel
from tfllm.models.classification_metrics import MacroF1, MultiLabelF1
from tfllm.models.raw_text import RawTextModel, single_texts
from tfllm.models.smoothed_crossentropy import SmoothedSparseCrossentropy
from tfllm.models.task_server import cached_server
from tfllm.models.text_classifier_serving import TextClassifierServer
from tfllm.text.entity_markers import MARKERS
from tfllm.text.vocabulary import special_token_ids
from tfllm.text.windows import sliding_windows
from tfllm.training.optimizer import adamw

FEATURE_NAMES = ("token_ids", "segment_ids", "padding_mask")


class TextClassifier(BertTaskModel, RawTextModel, keras.Model):
    """A backbone, dropout and a dense layer of logits, with the preprocessor and labels that go with them.

    Single-label models train with softmax cross-entropy and report accuracy and macro F1; multi-label
    models (`multi_label=True`) with sigmoid cross-entropy and micro/macro F1 at each label's threshold.
    Sentence pairs (`text_pair=True`) are packed as [CLS] a [SEP] b [SEP].

    Args:
        bert: a `Bert` from `tfllm.backbones.load_bert`.
        labels: the label names, in id order.
        multi_label: several labels per example.
        text_pair: the model reads two texts per example.
        thresholds: multi-label decision threshold, one number or one per label.
        dropout: dropout before the logits.
        pooling: "cls" (the backbone's pooled [CLS] output, as BERT was trained), "mean" (the mean of
            the token vectors, for sentence-embedding models such as all-MiniLM-L6-v2) or, for relation
            models, "markers" (the mean vectors of the marked head and tail, side by side).
        long_text: None (texts past `sequence_length` are truncated), or "mean" / "max": texts are read
            whole in windows of `sequence_length` tokens, `stride` pieces apart, and the text's logits
            are the mean or the maximum of its windows' logits. In training each window learns its
            text's label. Single texts only.
        stride: pieces between window starts (long_text); default: half a window.
        relation: the texts carry entity markers (`tfllm.text.entity_markers`) and the label is the
            relation between the marked head and tail; the serving graph inserts the markers.

    Example (not run by the test command: it trains a model):
    >>> bert = load_bert("all-minilm-l6-v2")  # doctest: +SKIP
    >>> classifier = TextClassifier(bert, labels=["negative", "positive"])  # doctest: +SKIP
    >>> classifier.compile(optimizer=adamw_with_warmup(5e-5, total_steps=500))  # doctest: +SKIP
    >>> train = classifier.make_dataset(read_text_examples("train.csv").examples, training=True)  # doctest: +SKIP
    >>> classifier.fit(train, epochs=2)  # doctest: +SKIP
    """

    targets = "labels"

    def __init__(self, bert, labels, multi_label=False, text_pair=False, thresholds=0.5, dropout=0.1,
                 pooling="cls", long_text=None, stride=None, relation=False, **kwargs):
        if relation and text_pair:
            raise ValueError("relation classifiers read one text with two marked entities, not text pairs")
        marker_ids = _marker_ids(bert.preprocessor) if relation else None
        inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in FEATURE_NAMES}
        outputs = bert.backbone(inputs)
        if pooling == "cls":
            set_pooler_trainable(bert.backbone, True)
            pooled = outputs["pooled_output"]
        elif pooling == "mean":
            set_pooler_trainable(bert.backbone, False)
            pooled = MaskedMeanPooling(name="mean_pooling")(outputs["sequence_output"], inputs["padding_mask"])
        elif pooling == "markers" and relation:
            set_pooler_trainable(bert.backbone, False)
            head_start, head_end, tail_start, tail_end = marker_ids
            pooled = MarkerPooling([(head_start, head_end), (tail_start, tail_end)], name="marker_pooling")(
                outputs["sequence_output"], inputs["token_ids"])
        else:
            raise ValueError(f"pooling must be 'cls', 'mean' or (relation models) 'markers', not {pooling!r}")
        pooled = keras.layers.Dropout(dropout, name="classifier_dropout")(pooled)
        labels = LabelSet(labels)
        if len(labels) < 2 and not multi_label:  # a softmax over one label answers it always, with 1.0
            raise ValueError(f"one label, {labels.names[0]!r}: a single-label classifier chooses among two or more "
                             "(multi_label=True makes a yes/no detector of one)")
        # float32 logits keep the loss stable under mixed precision.
        logits = keras.layers.Dense(len(labels), name="logits", dtype="float32")(pooled)
        super().__init__(inputs=inputs, outputs=logits, **kwargs)
        self.backbone = bert.backbone
        self.preprocessor = bert.preprocessor
        self.labels = labels
        self.multi_label, self.text_pair, self.dropout, self.pooling = multi_label, text_pair, dropout, pooling
        count = len(labels)
        thresholds = [float(thresholds)] * count if np.isscalar(thresholds) else [float(t) for t in thresholds]
        if len(thresholds) != count:
            raise ValueError(f"thresholds has {len(thresholds)} values for {count} labels")
        self.thresholds = thresholds
        if long_text not in (None, "mean", "max") or (long_text and text_pair):
            raise ValueError(f"long_text must be None, 'mean' or 'max' (single texts only), not {long_text!r}")
        self.long_text = long_text
        self.stride = stride or (self.preprocessor.sequence_length - 2) // 2
        self.relation = relation

    def compile(self, optimizer="auto", loss="auto", metrics="auto", consistency=0.0, label_smoothing=0.0, **kwargs):
        """Compiles with the task's loss and metrics, and `adamw()`, unless given others.

        `label_smoothing` > 0 trains the default loss toward `1 - label_smoothing` on each label plus
        `label_smoothing / labels` on every label (multi-label: each target toward 0.5 by half of it, as
        Keras's binary cross-entropy smooths), so that no training answer is pushed to certainty.

        `consistency` > 0 adds R-Drop (Liang et al. 2021): each training batch runs twice, with
        different dropout, and the loss adds this weight times the symmetric KL divergence between the
        two passes' predictions (the mean of KL both ways) to their mean loss.
        """
        self.consistency = float(consistency)
        if optimizer == "auto":
            optimizer = adamw()
        if loss == "auto":
            if self.multi_label:
                loss = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=label_smoothing)
            elif label_smoothing:
                loss = SmoothedSparseCrossentropy(len(self.labels), label_smoothing)
            else:
                loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":  # weighted: a student's rows without a label (weight 0) do not count
            kwargs["weighted_metrics"] = (
                [MultiLabelF1(self.thresholds, "micro"), MultiLabelF1(self.thresholds, "macro")] if self.multi_label
                else [keras.metrics.SparseCategoricalAccuracy(name="accuracy"), MacroF1(len(self.labels))])
            metrics = None
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        loss = super().compute_loss(x, y, y_pred, sample_weight, training)
        if not (training and getattr(self, "consistency", 0.0)):
            return loss
        other = self(x, training=True)
        loss = (loss + super().compute_loss(x, y, other, sample_weight, training)) / 2
        return loss + self.consistency * symmetric_kl(y_pred, other, self.multi_label)

    def examples(self, x, y=None):
        """`TextExample`s of raw inputs: `x` the texts (pair models: a (texts, text_pairs) tuple), `y` their
        labels, if given: names or ids (multi-label: a list of them per text)."""
        if self.relation:
            raise ValueError("a relation model needs the head and tail spans of each text: give tfllm predict "
                             "--input (a relation JSONL file), or make_dataset(marked_text_examples(examples))")
        paired = isinstance(x, tuple) and len(x) == 2 and not isinstance(x[0], (str, bytes))
        if paired != self.text_pair:
            raise ValueError("this model reads text pairs: give x=(texts, text_pairs)" if self.text_pair else
                             "this model reads single texts, not (texts, text_pairs)")
        texts, pairs = (list(x[0]), list(x[1])) if self.text_pair else (single_texts(x), [None] * len(x))
        labels = [None] * len(texts) if y is None else [self._label_names(label, i) for i, label in enumerate(y)]
        if len(pairs) != len(texts) or len(labels) != len(texts):
            pairs_given = f", {len(pairs)} text pairs" if self.text_pair else ""
            raise ValueError(f"{len(texts)} texts{pairs_given} and {len(labels)} labels: give one of each per example")
        return [TextExample(text, pair, label, f"y:{i}") for i, (text, pair, label) in enumerate(zip(texts, pairs, labels))]

    def _label_names(self, label, row):
        """The name(s) of the `row`-th label in y, given as names or ids."""
        def name(value):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                return value
            if not 0 <= value < len(self.labels):
                raise ValueError(f"y[{row}]: label id {value} is not one of 0-{len(self.labels) - 1} ({self.labels.names})")
            return self.labels.names[int(value)]

        return tuple(name(value) for value in label) if self.multi_label else name(label)

    def server(self):
        """The serving module: raw strings in, label names and probabilities out (see `TextClassifierServer`)."""
        return cached_server(self, lambda: TextClassifierServer(self))

    def encode_labels(self, examples, field="label"):
        """Label ids [n] (or multi-hot [n, labels]) for `examples`; DataError names rows with unknown labels."""
        bad_rows = self.labels.unknown(examples, field)
        if bad_rows:
            raise DataError(bad_rows, "give each example labels of this model, or leave it out")
        if self.multi_label:
            targets = np.zeros((len(examples), len(self.labels)), np.float32)
            for row, example in enumerate(examples):
                for label in example.label:
                    targets[row, self.labels.id(label)] = 1.0
            return targets
        return np.array([self.labels.id(example.label) for example in examples], np.int32)

    def pack(self, texts, text_pairs=None):
        """Packs a batch of strings in TF ops: ragged (token_ids, segment_ids) and each row's text index.

        One row per text; with `long_text`, one row per window, so a text may have several.
        """
        if not self.long_text:
            token_ids, segment_ids = self.preprocessor.pack(texts, text_pairs)
            return token_ids, segment_ids, tf.range(token_ids.nrows())
        windows, rows, _ = sliding_windows(self.preprocessor.tokenizer(texts), self.preprocessor.sequence_length - 2,
                                           self.stride)
        token_ids, segment_ids = self.preprocessor.packer([windows])
        return token_ids, segment_ids, rows

    def text_logits(self, logits, rows, count):
        """Logits per text [count, labels] from logits per row: the mean or max over a text's windows."""
        combine = tf.math.unsorted_segment_max if self.long_text == "max" else tf.math.unsorted_segment_mean
        return combine(logits, rows, count)

    def make_dataset(self, examples, batch_size=32, training=False, labeled=True, fixed_length=False, seed=None,
                     label_field="label", augmentation=None, unlabeled=()):
        """A dataset of this model's features and labels for `examples` (see `batch_packed_inputs`).

        With `labeled=False` the targets are each row's example index (several rows per example with
        `long_text`), to put predictions back in order. `augmentation`, a `TokenAugmentation` (or the
        keywords of one, and `keyword_cutoff`: see `keyword_hide_chances`, counted on these examples),
        changes training texts anew each epoch; its special tokens are this preprocessor's. `unlabeled`
        examples (single-label models) join `examples` with label -1 and sample weight 0: a student
        learns them from its teacher alone (`compile(distillation=...)`).
        """
        if unlabeled and (self.multi_label or not labeled):
            raise ValueError("unlabeled examples join the labeled ones of a single-label model's training data")
        examples = list(examples) + list(unlabeled)
        pairs = tf.constant([e.text_pair or "" for e in examples], tf.string) if self.text_pair else None
        token_ids, segment_ids, rows = self.pack(tf.constant([e.text for e in examples], tf.string), pairs)
        rows = rows.numpy()
        if labeled:
            targets = self.encode_labels(examples[:len(examples) - len(unlabeled)], label_field)
            if unlabeled:
                targets = np.concatenate([targets, np.full(len(unlabeled), -1, targets.dtype)])
            targets = targets[rows]
        else:
            targets = rows.astype(np.int64)
        if isinstance(augmentation, dict) and training:
            augmentation = self.token_augmentation(augmentation, token_ids, targets if labeled else None)
        return batch_packed_inputs(token_ids, segment_ids, targets, self.preprocessor, batch_size, shuffle=training,
                                   fixed_length=fixed_length, drop_remainder=fixed_length and training, seed=seed,
                                   augmentation=augmentation if training else None)

    def token_augmentation(self, options, token_ids, targets):
        """The `TokenAugmentation` of `options` (its keywords and `keyword_cutoff`) for the training texts
        `token_ids` and their `targets` (label ids, -1 for none, or multi-hot rows)."""
        options = dict(options)
        keyword_cutoff = options.pop("keyword_cutoff", 0.0)
        if keyword_cutoff:
            if targets is None:
                raise ValueError("keyword_cutoff learns which words give a label away: it needs labeled examples")
            # One-hot rows; a label of -1 (unlabeled) picks the extra last column, dropped: a row of zeros.
            label_matrix = targets if self.multi_label else np.eye(len(self.labels) + 1)[targets][:, :-1]
            options["hide_chances"] = keyword_hide_chances(token_ids, label_matrix, keyword_cutoff)
        return TokenAugmentation(**options, protected_ids=self.preprocessor.special_ids,
                                 pad_id=self.preprocessor.pad_id)

    def predict_probabilities(self, examples, batch_size=64):
        """Probabilities [n, labels] for `examples`, in their order."""
        logits, rows = [], []
        for features, indices in self.make_dataset(examples, batch_size=batch_size, labeled=False):
            logits.append(self(features, training=False))
            rows.append(indices)
        logits = self.text_logits(tf.concat(logits, 0), tf.concat(rows, 0), len(examples))
        return (tf.sigmoid(logits) if self.multi_label else tf.nn.softmax(logits)).numpy()

    def head_config(self):
        return {"labels": self.labels.names, "multi_label": self.multi_label, "text_pair": self.text_pair,
                "thresholds": self.thresholds, "dropout": self.dropout, "pooling": self.pooling,
                "long_text": self.long_text, "stride": self.stride, "relation": self.relation}


def symmetric_kl(logits_a, logits_b, multi_label=False):
    """The mean symmetric KL divergence between two predictions' distributions (softmax over labels, or
    one Bernoulli per label for multi-label logits)."""
    if multi_label:
        logits_a, logits_b = (tf.stack([tf.zeros_like(t), t], -1) for t in (logits_a, logits_b))
    log_a, log_b = tf.nn.log_softmax(logits_a), tf.nn.log_softmax(logits_b)
    divergence = tf.reduce_sum((tf.exp(log_a) - tf.exp(log_b)) * (log_a - log_b), -1)  # KL(a||b) + KL(b||a)
    return tf.reduce_mean(divergence) / 2


def _marker_ids(preprocessor):
    """The token ids of the entity markers; a ValueError if the tokenizer does not keep them whole."""
    ids = preprocessor.tokenizer(tf.constant(list(MARKERS))).to_list()
    unknown = special_token_ids(preprocessor.tokenizer.vocabulary_file)["[UNK]"]
    if any(len(row) != 1 or row[0] == unknown for row in ids):
        raise ValueError(f"relation classification marks entities with {', '.join(MARKERS)}, but this backbone's "
                         "tokenizer does not keep them as single known tokens; use a WordPiece vocabulary that "
                         "has them (every BERT vocabulary does), e.g. a KerasHub or Hugging Face source")
    return [row[0] for row in ids]


def build_text_classifier(source, labels, sequence_length=128, preprocess=None, native=True, **kwargs):
    """`load_bert(source, ...)` and a `TextClassifier` on it, in one call."""
    bert = load_bert(source, sequence_length=sequence_length, preprocess=preprocess, native=native,
                     dropout=kwargs.get("dropout", 0.1))
    return TextClassifier(bert, labels, **kwargs)
