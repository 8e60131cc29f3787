"""The serving module of every task: raw inputs -> preprocessing -> the model -> post-processing, one TF graph."""

import inspect

import numpy as np
import tensorflow as tf

from tfllm.terminal import progress_bar


class TaskServer(tf.Module):
    """What `tfllm export` saves for TF Serving, and what `predict` and `tfllm evaluate` answer through.

    Each task's server (`<model>_serving.py` beside its model) subclasses this and defines, in this order:
      - `input_signature()`: the `tf.TensorSpec`s of its `serving_default` inputs (raw strings, offsets);
      - `preprocess(*inputs)`: (the model's features, what post-processing needs of the inputs), in TF ops;
      - `postprocess(outputs, context)`: the model's outputs as named answer tensors (labels, entities
        with offsets, answer spans), in TF ops;
      - `requests(examples)`: the inputs of a list of examples; `answers(examples, outputs)`: the numpy
        outputs as JSON-ready rows;
      - `example_requests()`: inputs per signature for warmup records and the fresh-process check.
    `serve` (the `serving_default` signature) is `postprocess(model(preprocess(inputs)))`. A server
    that decodes in a loop (GPT-2) overrides `_serve`, and one with more signatures `signatures()`.
    """

    rows = None  # the `serving_default` inputs whose first dimension is the batch; None: all of rank >= 1

    def __init__(self, model, name=None):
        super().__init__(name=name)
        self.model = model
        signature = self.input_signature()
        self.serve = signature_function(self._serve, signature, self.rows)

    def input_signature(self):
        raise NotImplementedError

    def preprocess(self, *inputs):
        raise NotImplementedError

    def postprocess(self, outputs, context):
        raise NotImplementedError

    def _serve(self, *inputs):
        features, context = self.preprocess(*inputs)
        return self.postprocess(self.model(features, training=False), context)

    def signatures(self):
        """The functions to export, by signature name."""
        return {"serving_default": self.serve}

    def requests(self, examples):
        raise NotImplementedError

    def answers(self, examples, outputs):
        raise NotImplementedError

    def example_requests(self):
        raise NotImplementedError

    def answer(self, examples, batch_size=64, progress=False):
        """JSON-ready answer rows of `examples` through `serve`, in batches: the graph TF Serving runs, so
        what `predict`, `tfllm predict` and `tfllm evaluate` return is what the export answers. `progress`:
        show a Keras progress bar (a SQuAD dev set takes minutes on a CPU)."""
        rows = []
        bar = progress_bar(len(examples), "example") if progress else None
        for begin in range(0, len(examples), batch_size):
            batch = examples[begin:begin + batch_size]
            inputs = {name: values if tf.is_tensor(values) else
                      tf.constant(np.asarray(values, dtype=np.int32 if isinstance(values[0], int) else object))
                      for name, values in self.requests(batch).items()}
            outputs = self.serve(**inputs)
            rows.extend(self.answers(batch, {name: value.numpy() for name, value in outputs.items()}))
            if bar:
                bar.update(len(rows))
        return rows


def cached_server(model, make, *key):
    """`make()`, the serving module of `model`, made (and traced) once per model and made again only when
    `key` or the model's variables change: int8 quantization and LoRA replace or add variables, and a
    traced graph keeps reading the ones it captured. So `predict` in a loop traces once.

    Example:
    >>> import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> server = cached_server(model, object)
    >>> cached_server(model, object) is server
    True
    >>> model.layers[0].quantize("int8")  # new variables: an int8 kernel and its scales
    >>> cached_server(model, object) is server
    False
    """
    state = (tuple(id(variable) for variable in model.variables), key)
    cached = getattr(model, "_server", None)
    if cached is None or cached[0] != state:
        cached = (state, make())
        object.__setattr__(model, "_server", cached)  # untracked: a saved server carries no other server
    return cached[1]


def signature_function(function, signature, rows=None):
    """A `tf.function` of `function` for the `input_signature` `signature`, called by its specs' names.

    `rows`: the names of the inputs whose first dimension is the batch (default: every input of rank 1
    or more); `function` returns a dict of outputs whose first dimension is too. A request of no rows,
    which a serving client may send, gets outputs of no rows: the graph runs on one blank row in its
    place, as a model's slices and a decoder's loop need one.
    """
    names = [spec.name for spec in signature]
    rows = [spec.name for spec in signature if spec.shape.rank] if rows is None else list(rows)
    return tf.function(NamedInputs(function, names, rows), input_signature=signature)


class NamedInputs:
    """`function` (of positional inputs) as a function of parameters `names`, so that `serve` is called
    by input name, as TF Serving's signatures are. An object, not a closure: TensorFlow counts the traces
    of all closures of one code object together, and warned of "retracing" (blaming a tf.function made
    in a loop) when a process traced a fifth server, though each server traces once."""

    def __init__(self, function, names, rows=()):
        self.function, self.rows = function, rows
        self.__signature__ = inspect.Signature(
            [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in names])

    def __call__(self, *args, **kwargs):
        inputs = self.__signature__.bind(*args, **kwargs).arguments
        if not self.rows:
            return self.function(*inputs.values())
        count = tf.shape(inputs[self.rows[0]])[0]
        for name in self.rows:
            inputs[name] = _rows_or_one_blank(inputs[name], count)
        return {name: output[:count] for name, output in self.function(*inputs.values()).items()}


def _rows_or_one_blank(value, count):
    """`value` when it has rows (`count` > 0), else one row of "" or 0 (at least 1 wide in every dimension)."""
    return tf.cond(count > 0, lambda: value, lambda: tf.fill(
        tf.concat([[1], tf.maximum(tf.shape(value)[1:], 1)], axis=0), tf.zeros([], value.dtype)))
