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


def rows_of(x):
    """`x` with pandas columns as lists: `fit(df["text"], df["label"])`, the Colab habit, and a tuple of
    columns for pairs; anything else unchanged (Keras would read a column of strings as a tensor and
    fail on its dtype)."""
    if isinstance(x, tuple):
        return tuple(rows_of(column) for column in x)
    if type(x).__module__.partition(".")[0] == "pandas" and hasattr(x, "tolist"):
        return x.tolist()
    return x


def batch_of(x):
    """(`x` as a list, whether `x` was a single string): one string is one input, answered alone, as
    KerasHub's `generate` takes one prompt (a list of its characters would be garbage answered quietly).

    Example:
    >>> batch_of("where is my parcel?")
    (['where is my parcel?'], True)
    >>> batch_of(("a", "b"))
    (['a', 'b'], False)
    """
    if isinstance(x, (str, bytes)):
        return [x], True
    return list(rows_of(x)), False


def checked_texts(x, name="x"):
    """`x` (raw inputs: texts, or a sequence of lists of texts: pair columns, dialogues) when every input is
    a string; else a ValueError naming the first that is not, as `name[i]` (a pandas column gives NaN
    for an empty cell, which TensorFlow would only report as a tensor it cannot convert).

    Example:
    >>> checked_texts(["fine", float("nan")])
    Traceback (most recent call last):
    ...
    ValueError: x[1]: expected a string, got float nan
    """
    columns = len(x) > 0 and isinstance(x[0], (list, tuple, np.ndarray))  # as `is_raw_text` reads pairs
    for c, column in enumerate(x if columns else [x]):
        for i, value in enumerate(column):
            if not isinstance(value, (str, bytes)):
                where = f"{name}[{c}][{i}]" if columns else f"{name}[{i}]"
                raise ValueError(f"{where}: expected a string, got {type(value).__name__} {value!r:.60}")
    return x


def single_texts(x, reads="this model reads one text per input"):
    """`x` as a list of texts, for a model that reads one text per input; a ValueError naming the first
    input that is not a string (a nested list, or text pairs given to such a model), which TensorFlow
    would only report as a tensor of the wrong shape."""
    texts = list(x)
    for i, text in enumerate(texts):
        if not isinstance(text, (str, bytes)):
            raise ValueError(f"x[{i}]: expected a string, got {type(text).__name__} {text!r:.60} ({reads})")
    return texts


def _has_no_rows(x):
    """Whether `x` is an empty list of inputs, or a tuple of empty lists (pairs)."""
    if isinstance(x, tuple) and x and all(isinstance(column, (list, tuple, np.ndarray)) for column in x):
        return all(len(column) == 0 for column in x)
    return isinstance(x, (list, tuple, np.ndarray)) and len(x) == 0


def _split_last(x, y, fraction):
    """((x, y) to train on, (x, y) to validate on): the last `fraction` of the rows held out, where Keras's
    `validation_split` cuts arrays. `x` is a list of texts or a tuple of such lists.

    Example:
    >>> _split_last((["q1", "q2", "q3", "q4"], ["c1", "c2", "c3", "c4"]), ["a1", "a2", "a3", "a4"], 0.25)
    (((['q1', 'q2', 'q3'], ['c1', 'c2', 'c3']), ['a1', 'a2', 'a3']), ((['q4'], ['c4']), ['a4']))
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be between 0 and 1, not {fraction}")
    cut = int(len(x[0] if isinstance(x, tuple) else x) * (1.0 - fraction))

    def rows(part):
        texts = tuple(column[part] for column in x) if isinstance(x, tuple) else x[part]
        return texts, None if y is None else y[part]

    return rows(slice(cut)), rows(slice(cut, None))


class RawTextModel(TaskFit):
    """A mixin for the BERT task models (before `keras.Model` in the bases).

    `fit(x=texts, y=labels, ...)` and `evaluate(texts, labels)` build the model's dataset from raw
    strings (also `validation_data=(texts, labels)` and `validation_split`), and `predict(texts)`
    returns the served answers as rows (see the model's server), `predict(text)` the one row.
    Datasets and feature dicts go to Keras unchanged. A model defines `examples(x, y)`, turning raw
    inputs and labels into its examples, and `server()`.
    """

    predict_batch_size = 64  # examples per served call
    targets = None  # what y holds in `fit` and `evaluate` on raw inputs ("labels"); None: y may be left out

    def examples(self, x, y=None):
        raise NotImplementedError

    def server(self):
        raise NotImplementedError

    def fit(self, x=None, y=None, batch_size=None, validation_data=None, validation_split=0.0, **kwargs):
        """Keras `fit`; `x` may also be raw strings with `y` their labels (batch_size default 32), and then
        `validation_split` holds out their last rows, as Keras does for arrays."""
        x, y, validation_data = rows_of(x), rows_of(y), rows_of(validation_data)
        if validation_split and is_raw_text(x) and validation_data is None:
            (x, y), validation_data = _split_last(x, y, validation_split)
            validation_split = 0.0
        if isinstance(validation_data, tuple) and is_raw_text(validation_data[0]):
            validation_data = self._raw_dataset(*validation_data, batch_size, name="validation_data[0]")
        if is_raw_text(x):
            if kwargs.get("sample_weight") is not None:  # Keras's refusal speaks of a tf.data.Dataset
                raise ValueError("fit on raw texts takes no sample_weight (the texts become a dataset); weigh "
                                 "whole classes with class_weight, or leave rows out")
            x, y, batch_size = self._raw_dataset(x, y, batch_size, training=True), None, None
        return super().fit(x, y, batch_size=batch_size, validation_data=validation_data,
                           validation_split=validation_split, **kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """Keras `evaluate` (the loss and the compiled metrics); `x` may also be raw strings with `y` their
        labels (batch_size default 32)."""
        x, y = rows_of(x), rows_of(y)
        if is_raw_text(x):
            x, y, batch_size = self._raw_dataset(x, y, batch_size), None, None
        return super().evaluate(x, y, batch_size=batch_size, **kwargs)

    def _raw_dataset(self, x, y, batch_size, training=False, name="x"):
        if y is None and self.targets:  # the examples would carry none, and train toward none
            raise ValueError(f"raw inputs need their {self.targets} to train or evaluate on: "
                             f"fit(x=..., y={self.targets})")
        return self.make_dataset(self.examples(checked_texts(x, name), y), batch_size=batch_size or 32,
                                 training=training)

    def predict(self, x, batch_size=None, **kwargs):
        """Keras `predict`; for raw strings, the served answers: one JSON-ready dict per input (for one
        string, its dict; for none, an empty list)."""
        x = rows_of(x)
        if isinstance(x, (str, bytes)):
            return self.predict([x], batch_size, **kwargs)[0]
        if x is None:
            raise ValueError("predict takes raw inputs: a text, a list of texts, or a tuple of text lists (text pairs; "
                             "questions and contexts)")
        if _has_no_rows(x):
            return []
        if is_raw_text(x):
            return self.server().answer(self.examples(checked_texts(x)), batch_size or self.predict_batch_size)
        return super().predict(x, batch_size=batch_size, **kwargs)
