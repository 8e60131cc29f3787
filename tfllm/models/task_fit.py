"""`fit` as every task model runs it: quiet on the tasks' own datasets, traced once."""

import tensorflow as tf


class TaskFit:
    """A mixin (before `keras.Model` in the bases) for the task models' `fit`.

    - Their `make_dataset(training=True)` shuffles itself, from its seed and within length buckets.
      Keras's `fit` defaults to `shuffle=True` and warns, on every call with a `tf.data.Dataset`, that
      it ignores it; for these datasets that is the intended behaviour, so `fit` passes `shuffle=False`
      unless the caller says otherwise.
    - Outside a distribution strategy, Keras creates the optimizer's variables (Adam's two per weight)
      while it traces the first training step, and a `tf.function` that creates variables is traced
      twice. `fit` builds them first, as Keras does itself under a strategy: a MiniLM classifier's
      first fit (one step) takes 8.0-9.2 s instead of 14.3-16.6 s (2 CPU cores, 4 interleaved rounds).
    """

    def fit(self, x=None, y=None, **kwargs):
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        if getattr(self, "optimizer", None) is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)
        return super().fit(x, y, **kwargs)
