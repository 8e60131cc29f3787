"""F1 metrics for classifiers that output logits: macro F1 (single-label), micro/macro F1 (multi-label)."""

import keras
from keras import ops


def _f1(true_positives, false_positives, false_negatives):
    return ops.divide_no_nan(2 * true_positives, 2 * true_positives + false_positives + false_negatives)


class MacroF1(keras.metrics.Metric):
    """Macro-averaged F1 over classes, from integer labels and per-class logits.

    Example:
    >>> metric = MacroF1(num_classes=3)
    >>> metric.update_state([0, 1, 2], [[5., 0, 0], [0, 5., 0], [5., 0, 0]])
    >>> round(float(metric.result()), 4)
    0.5556
    """

    def __init__(self, num_classes, name="macro_f1", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes = num_classes
        self.confusion = self.add_variable(shape=(num_classes, num_classes), initializer="zeros", name="confusion")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(ops.reshape(y_true, [-1]), "int32")
        y_pred = ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        pairs = ops.one_hot(y_true * self.num_classes + y_pred, self.num_classes * self.num_classes)
        if sample_weight is not None:  # rows of weight 0 (texts without a label) do not count
            pairs = pairs * ops.cast(ops.reshape(sample_weight, [-1, 1]), pairs.dtype)
        self.confusion.assign_add(ops.reshape(ops.sum(pairs, axis=0), (self.num_classes, self.num_classes)))

    def result(self):
        true_positives = ops.diagonal(self.confusion)
        predicted, actual = ops.sum(self.confusion, axis=0), ops.sum(self.confusion, axis=1)
        f1 = _f1(true_positives, predicted - true_positives, actual - true_positives)
        # Over the classes the data or the predictions hold, as scikit-learn averages: a class absent
        # from both (a small evaluation file) is not a zero.
        present = ops.cast(predicted + actual > 0, f1.dtype)
        return ops.sum(f1 * present) / ops.maximum(ops.sum(present), 1.0)

    def reset_state(self):
        self.confusion.assign(ops.zeros_like(self.confusion))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}


class MultiLabelF1(keras.metrics.Metric):
    """Micro- or macro-averaged F1 of multi-label predictions: sigmoid(logit) >= the label's threshold.

    Example:
    >>> metric = MultiLabelF1(thresholds=[0.5, 0.5], average="micro")
    >>> metric.update_state([[1, 0], [1, 1]], [[3., -3.], [3., -3.]])
    >>> round(float(metric.result()), 4)
    0.8
    """

    def __init__(self, thresholds, average="micro", name=None, **kwargs):
        super().__init__(name=name or f"{average}_f1", **kwargs)
        if average not in ("micro", "macro"):
            raise ValueError(f"average must be 'micro' or 'macro', not {average!r}")
        self.thresholds, self.average = list(thresholds), average
        shape = (len(self.thresholds),)
        self.true_positives = self.add_variable(shape=shape, initializer="zeros", name="true_positives")
        self.false_positives = self.add_variable(shape=shape, initializer="zeros", name="false_positives")
        self.false_negatives = self.add_variable(shape=shape, initializer="zeros", name="false_negatives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "float32")
        predicted = ops.cast(ops.sigmoid(ops.cast(y_pred, "float32")) >= ops.convert_to_tensor(self.thresholds), "float32")
        self.true_positives.assign_add(ops.sum(predicted * y_true, axis=0))
        self.false_positives.assign_add(ops.sum(predicted * (1 - y_true), axis=0))
        self.false_negatives.assign_add(ops.sum((1 - predicted) * y_true, axis=0))

    def result(self):
        if self.average == "micro":
            return _f1(ops.sum(self.true_positives), ops.sum(self.false_positives), ops.sum(self.false_negatives))
        return ops.mean(_f1(self.true_positives, self.false_positives, self.false_negatives))

    def reset_state(self):
        for variable in (self.true_positives, self.false_positives, self.false_negatives):
            variable.assign(ops.zeros_like(variable))

    def get_config(self):
        return {**super().get_config(), "thresholds": self.thresholds, "average": self.average}
