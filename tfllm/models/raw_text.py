"""Keras habits on raw text for the BERT task models: `fit` on strings and labels, `predict` on strings.

The models' own pipelines stay the fast path for large data (`make_dataset` buckets by length); these
are the Colab forms, as KerasHub's tasks take them.
"""

import numpy as np

from tfllm.models.task_fit import TaskFit


def is_raw_text(x):
    """Whether `x` is strings (a list or array of them, or a tuple/list of such lists for pair inputs)."""
    if isinstance(x, np.ndarray):
        return x.size > 0 and isinstance(x.flat[0], (str, bytes))
    if isinstance(x, (list, tuple)) and len(x) > 0:
        first = x[0]
        if isinstance(first, (str, bytes)):
            return True
        return isinstance(first, (list, tuple, np.ndarray)) and len(first) > 0 and isinstance(first[0], (str, bytes))
    return False


class RawTextModel(TaskFit):
    """A mixin for the BERT task models (before `keras.Model` in the bases).

    `fit(x=texts, y=labels, ...)` and `evaluate(texts, labels)` build the model's dataset from raw
    strings (also `validation_data=(texts, labels)`), and `predict(texts)` returns the served answers
    as rows (see the model's server). Datasets and feature dicts go to Keras unchanged. A model defines `examples(x, y)`,
    turning raw inputs and labels into its examples, and `server()`.
    """

    predict_batch_size = 64  # examples per served call

    def examples(self, x, y=None):
        raise NotImplementedError

    def server(self):
        raise NotImplementedError

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, **kwargs):
        """Keras `fit`; `x` may also be raw strings with `y` their labels (batch_size default 32)."""
        if isinstance(validation_data, tuple) and is_raw_text(validation_data[0]):
            validation_data = self._raw_dataset(*validation_data, batch_size)
        if is_raw_text(x):
            x, y, batch_size = self._raw_dataset(x, y, batch_size, training=True), None, None
        return super().fit(x, y, batch_size=batch_size, validation_data=validation_data, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """Keras `evaluate` (the loss and the compiled metrics); `x` may also be raw strings with `y` their
        labels (batch_size default 32)."""
        if is_raw_text(x):
            x, y, batch_size = self._raw_dataset(x, y, batch_size), None, None
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def _raw_dataset(self, x, y, batch_size, training=False):
        return self.make_dataset(self.examples(x, y), batch_size=batch_size or 32, training=training)

    def predict(self, x, batch_size=None, **kwargs):
        """Keras `predict`; for raw strings, the served answers: one JSON-ready dict per input."""
        if is_raw_text(x):
            return self.server().answer(self.examples(x), batch_size or self.predict_batch_size)
        return super().predict(x, batch_size=batch_size, **kwargs)
