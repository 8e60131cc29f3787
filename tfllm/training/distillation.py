"""Knowledge distillation (Hinton et al. 2015): a student learns a fine-tuned teacher's softened predictions."""

import dataclasses

import keras
import tensorflow as tf


@dataclasses.dataclass
class Distillation:
    """What a student model's `compile(distillation=...)` takes: its teacher and how to learn from it.

    In training, each batch also runs through the teacher (inference mode, weights frozen), and the
    loss is `(1 - soft_weight) * hard + soft_weight * temperature**2 * KL(teacher || student)`, both
    predictions softened by `temperature` (the square keeps the soft gradients' scale as the
    temperature changes). The hard loss is the model's own, on the labels; rows without a label (sample
    weight 0) learn from the teacher alone. Validation and serving see only the student.

    Args:
        teacher: a trained task model of the student's kind that reads the same inputs (the same
            preprocessor), e.g. the one `student_of` started from.
        temperature: softens both predictions (above 1 shows the teacher's ranking of wrong answers).
        soft_weight: weight of the divergence to the teacher, in [0, 1].

    Example:
    >>> import numpy as np
    >>> teacher = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> distillation = Distillation(teacher, temperature=2.0, soft_weight=1.0)
    >>> x = np.ones((4, 3), "float32")
    >>> round(float(distillation.soft_loss(x, teacher(x))), 6)  # a student that predicts as its teacher
    0.0
    """

    teacher: keras.Model
    temperature: float = 2.0
    soft_weight: float = 0.5

    def __post_init__(self):
        if not self.temperature > 0:
            raise ValueError(f"temperature must be above 0, not {self.temperature}")
        if not 0.0 <= self.soft_weight <= 1.0:
            raise ValueError(f"soft_weight must be in [0, 1], not {self.soft_weight}")
        self.teacher.trainable = False

    def soft_loss(self, x, student_logits, weights=None, multi_label=False):
        """temperature**2 x the mean KL divergence from the teacher's softened predictions for inputs `x` to
        the student's `student_logits` ([batch, labels], or [batch, tokens, tags] with `weights` [batch,
        tokens] saying which positions count). Multi-label logits are one Bernoulli per label."""
        teacher_logits = tf.stop_gradient(tf.cast(self.teacher(x, training=False), tf.float32))
        student_logits = tf.cast(student_logits, tf.float32)
        if multi_label:
            teacher_logits, student_logits = (tf.stack([tf.zeros_like(t), t], -1) for t in
                                              (teacher_logits, student_logits))
        teacher_log = tf.nn.log_softmax(teacher_logits / self.temperature)
        student_log = tf.nn.log_softmax(student_logits / self.temperature)
        divergence = tf.reduce_sum(tf.exp(teacher_log) * (teacher_log - student_log), -1)
        if multi_label:
            divergence = tf.reduce_mean(divergence, -1)
        if weights is None:
            mean = tf.reduce_mean(divergence)
        else:
            weights = tf.cast(weights, tf.float32)
            mean = tf.math.divide_no_nan(tf.reduce_sum(divergence * weights), tf.reduce_sum(weights))
        return self.temperature ** 2 * mean

    def loss(self, x, hard_loss, student_logits, weights=None, multi_label=False):
        """The student's training loss: the hard loss and the soft one, weighted by `soft_weight`."""
        soft = self.soft_loss(x, student_logits, weights, multi_label)
        return (1.0 - self.soft_weight) * hard_loss + self.soft_weight * soft
