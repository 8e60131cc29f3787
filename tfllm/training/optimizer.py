"""AdamW with linear warmup and linear decay, as BERT fine-tuning uses."""

import keras
from keras import ops

# LayerNorm scales and offsets and all biases are not decayed (BERT, Devlin et al. 2019).
NO_WEIGHT_DECAY = ["bias", "gamma", "beta"]


@keras.saving.register_keras_serializable(package="tfllm")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to `peak_learning_rate` over `warmup_steps`, then falls linearly to 0 at `total_steps`.

    Example:
    >>> schedule = WarmupLinearDecay(1e-4, warmup_steps=10, total_steps=110)
    >>> [round(float(schedule(step)), 6) for step in (0, 5, 10, 60, 110)]
    [0.0, 5e-05, 0.0001, 5e-05, 0.0]
    """

    def __init__(self, peak_learning_rate, warmup_steps, total_steps):
        self.peak_learning_rate, self.warmup_steps, self.total_steps = peak_learning_rate, warmup_steps, total_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = self.peak_learning_rate * step / max(self.warmup_steps, 1)
        decay_steps = max(self.total_steps - self.warmup_steps, 1)
        decay = self.peak_learning_rate * ops.maximum(0.0, (self.total_steps - step) / decay_steps)
        return ops.where(step < self.warmup_steps, warmup, decay)

    def get_config(self):
        return {"peak_learning_rate": self.peak_learning_rate, "warmup_steps": self.warmup_steps,
                "total_steps": self.total_steps}


def adamw(learning_rate=5e-5, weight_decay=0.01, clipnorm=1.0):
    """AdamW as BERT fine-tunes with it: norms and biases not decayed, gradients clipped; the BERT task
    models' `compile()` default (at a constant 5e-5; `adamw_with_warmup` adds the schedule).

    Example:
    >>> round(float(adamw().learning_rate), 8)
    5e-05
    """
    optimizer = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay, epsilon=1e-6,
                                       global_clipnorm=clipnorm)
    optimizer.exclude_from_weight_decay(var_names=NO_WEIGHT_DECAY)
    return optimizer


def adamw_with_warmup(learning_rate, total_steps, warmup_fraction=0.1, weight_decay=0.01, clipnorm=1.0):
    """An AdamW optimizer for fine-tuning: warmup, linear decay, no decay on norms and biases.

    Args:
        learning_rate: the peak learning rate.
        total_steps: optimizer steps in the whole run (epochs x steps per epoch).
        warmup_fraction: share of `total_steps` spent warming up.
        weight_decay: decoupled weight decay of the other weights.
        clipnorm: global gradient-norm clipping (None for none).

    Example:
    >>> optimizer = adamw_with_warmup(5e-5, total_steps=1000)
    """
    schedule = WarmupLinearDecay(learning_rate, int(total_steps * warmup_fraction), total_steps)
    return adamw(schedule, weight_decay, clipnorm)
