"""Softmax cross-entropy of integer labels against smoothed targets (label smoothing)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfllm")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy of logits against `1 - label_smoothing` on each row's label plus `label_smoothing /
    classes` on every class (Szegedy et al. 2016), from integer labels: Keras's sparse cross-entropy has
    no smoothing, and one-hot targets would change every classifier dataset. Rows labelled -1 (a
    distillation student's unlabeled texts) carry weight 0, and add nothing.

    Args:
        classes: the number of classes.
        label_smoothing: the share of each target spread evenly over the classes, in [0, 1).

    Example:
    >>> logits = keras.ops.convert_to_tensor([[4.0, 0.0, 0.0]])
    >>> hard = SmoothedSparseCrossentropy(3, 0.0)([0], logits)
    >>> smoothed = SmoothedSparseCrossentropy(3, 0.2)([0], logits)
    >>> bool(smoothed > hard)  # a confident right answer still pays for its confidence
    True
    """

    def __init__(self, classes, label_smoothing, name="smoothed_sparse_crossentropy", **kwargs):
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), not {label_smoothing}")
        super().__init__(name=name, **kwargs)
        self.classes, self.label_smoothing = int(classes), float(label_smoothing)

    def call(self, y_true, y_pred):
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        targets = ops.one_hot(labels, self.classes)
        return keras.losses.categorical_crossentropy(targets, y_pred, from_logits=True,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self):
        return {**super().get_config(), "classes": self.classes, "label_smoothing": self.label_smoothing}
