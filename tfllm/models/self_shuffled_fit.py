"""`fit` on the tasks' own datasets, without Keras's warning that it cannot shuffle them."""

import tensorflow as tf


class SelfShuffledFit:
    """A mixin (before `keras.Model` in the bases) for models whose `make_dataset(training=True)` shuffles
    itself, from its seed and within length buckets.

    Keras's `fit` defaults to `shuffle=True` and warns, on every call with a `tf.data.Dataset`, that it
    ignores it; for these datasets that is the intended behaviour, so `fit` passes `shuffle=False`
    unless the caller says otherwise.
    """

    def fit(self, x=None, y=None, **kwargs):
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)
        return super().fit(x, y, **kwargs)
