"""The check every task model passes on a tiny backbone, like KerasHub's `run_task_test`."""

import json
import warnings

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from tfllm.models.quantization import quantize_backbone
from tfllm.models.raw_text import RawTextModel
from tfllm.training.optimizer import adamw
from tfllm.training.precision import precision_scope


def _numbers(rows):
    """The numbers in answer rows (probabilities; entity, answer or mask-candidate scores; embeddings), in order."""
    values = []
    for row in rows:
        values.extend(row.get("probabilities", {}).values())
        values.extend(entity["score"] for entity in row.get("entities", []))
        values.extend(candidate["score"] for mask in row.get("masks", []) for candidate in mask)
        values.extend(row.get("embedding", []))
        if "score" in row:
            values.append(row["score"])
    return np.array(values, np.float32)


def _readable(rows):
    """The answer rows without their scores: what must match exactly."""
    def keep(key, value):
        if key == "entities":
            return [{**entity, "score": None} for entity in value]
        if key == "masks":
            return [[candidate["token"] for candidate in mask] for mask in value]
        return value
    return [{k: keep(k, v) for k, v in row.items() if k not in ("probabilities", "score", "embedding")} for row in rows]


def run_task_test(build, train, requests, tmp_path, epochs=3, learning_rate=1e-3, batch_size=8):
    """Builds a model with `build()` and checks what every task model promises.

    Args:
        build: makes a fresh model (seeded, on a tiny backbone).
        train: (x, y), raw inputs and labels for `fit` (BERT task models), or `train(model)`, a dataset.
        requests: `requests(model)`, the examples its server answers (texts, prompts, ...); for a model fit on
            raw inputs, its examples of the first inputs of `train`'s x (which `predict` must answer alike).
        epochs, learning_rate, batch_size: of the fit (AdamW; the rate a number or a schedule), enough for
            a test that also checks what the fitted model learned.

    Checks:
    - `compile()` gives the task's loss and metrics: `fit`, 8 batches per compiled call (as TPU jobs run,
      `training.steps_per_execution`), lowers the training loss, without Keras's warning that it cannot
      shuffle the model's own (self-shuffling) dataset, and creates no variable while it traces
      (TensorFlow would trace the training step twice);
    - `get_config()` is JSON, and `from_config` builds the same model (config and weight shapes);
    - `save_to_dir` and `load` give a model whose server answers the same, scores included;
    - the SavedModel of its server (`TaskServer`), loaded back, answers the same, a request of no rows
      with outputs of no rows, and one of odd strings (empty, control characters, invalid UTF-8, very
      long) with a row each, its scores finite;
    - built under `mixed_bfloat16`, it computes in bfloat16 with float32 variables and float32 outputs.
    Models trained here on raw inputs also answer raw strings with `predict(x)`, as their server does
    (one string with its row).
    The models `--quantize int8` exports (classifier, tagger, reader, embedder) with int8 backbone
    weights (`quantize_backbone`) answer about as the float model does (their SavedModel is checked
    by `tfllm export --quantize int8` in test_cli and by the README's compression snippet).

    Returns (the fitted model, its server's answer rows).
    """
    model = build()
    model.compile(optimizer=adamw(learning_rate), steps_per_execution=8)
    traced_variables = []

    def record_traced_variables(next_creator, **kwargs):
        if not tf.executing_eagerly():
            traced_variables.append(kwargs.get("name"))
        return next_creator(**kwargs)

    with warnings.catch_warnings(record=True) as warned, tf.variable_creator_scope(record_traced_variables):
        warnings.simplefilter("always")
        if callable(train):
            history = model.fit(train(model), epochs=epochs, verbose=0)
        else:
            history = model.fit(*train, batch_size=batch_size, epochs=epochs, verbose=0)
    assert not [w for w in warned if "shuffle" in str(w.message)], "the dataset shuffles itself, quietly"
    assert not traced_variables, f"fit created variables while tracing: {traced_variables[:4]}"
    losses = history.history["loss"]
    assert losses[-1] < losses[0], f"fit did not lower the loss: {losses}"

    _check_config_round_trip(model)

    examples = requests(model)
    server = model.server()
    rows = server.answer(examples)
    assert len(rows) == len(examples) and all(isinstance(row, dict) for row in rows)
    if not callable(train):
        assert model.predict(_first(train[0], len(rows))) == rows
        if not isinstance(train[0], tuple):  # one string is one input (not its characters), none no rows
            assert model.predict(train[0][0]) == rows[0] and model.predict([]) == []
        evaluated = model.evaluate(*train, batch_size=batch_size, verbose=0, return_dict=True)
        assert set(evaluated) == set(history.history) and np.isfinite(evaluated["loss"]), evaluated
        # A DataFrame's columns, as Colab users pass them, are the same inputs.
        assert model.predict(_columns(_first(train[0], len(rows)))) == rows
        evaluated_columns = model.evaluate(*map(_columns, train), batch_size=batch_size, verbose=0, return_dict=True)
        assert evaluated_columns == pytest.approx(evaluated, rel=1e-5)
    assert model.server() is server, "each predict or server() call traced the serving graph anew"

    model.save_to_dir(str(tmp_path / "model"))
    restored_rows = type(model).load(str(tmp_path / "model")).server().answer(examples)
    assert _readable(restored_rows) == _readable(rows)
    np.testing.assert_allclose(_numbers(restored_rows), _numbers(rows), atol=1e-5)

    exported_rows = _exported_answers(server, examples, tmp_path / "saved_model")
    assert _readable(exported_rows) == _readable(rows)
    np.testing.assert_allclose(_numbers(exported_rows), _numbers(rows), atol=1e-5)

    if isinstance(model, RawTextModel):  # the BERT task models that `--quantize int8` exports
        _check_int8(type(model).load(str(tmp_path / "model")), examples, rows)
    _check_mixed_precision(build, train)
    return model, rows


def _columns(x):
    """Raw inputs or labels as pandas Series (a tuple of them for pairs)."""
    return tuple(pd.Series(column) for column in x) if isinstance(x, tuple) else pd.Series(list(x))


def _first(x, count):
    """The first `count` inputs of raw x: a list of texts, or a tuple of lists (pairs, questions and contexts)."""
    return tuple(column[:count] for column in x) if isinstance(x, tuple) else x[:count]


def _exported_answers(server, examples, path):
    """The answer rows of `server` saved as a SavedModel at `path` and loaded back; a request of no rows
    (a serving client may send one) gets outputs of no rows."""
    tf.saved_model.save(server, str(path), signatures=server.signatures())
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    inputs = {name: values if tf.is_tensor(values) else tf.constant(values)
              for name, values in server.requests(examples).items()}
    batched = [name for name, spec in serve.structured_input_signature[1].items() if spec.shape.rank]
    empty = serve(**{name: value[:0] if name in batched else value for name, value in inputs.items()})
    assert all(output.shape[0] == 0 for output in empty.values()), {k: v.shape for k, v in empty.items()}
    # Whatever strings a client sends get an answer per row, with finite scores.
    odd = serve(**{name: _odd_strings(value) if name in batched and value.dtype == tf.string else value
                   for name, value in inputs.items()})
    count = inputs[(server.rows or batched)[0]].shape[0]  # `rows`: a GPT-2's prompts, not its stop strings
    for name, output in odd.items():
        assert output.shape[0] == count, (name, output.shape)
        assert not output.dtype.is_floating or np.isfinite(output.numpy()).all(), f"odd strings gave {name} NaN"
    return server.answers(examples, {name: value.numpy() for name, value in serve(**inputs).items()})


ODD_STRINGS = [b"", b"   ", b"\t\r\n", b"\x00\x01\x7f", "\u200b\u2028 emoji \U0001F600".encode(), b"\xff\xfe\xc3 broken UTF-8",
               ("word " * 1000).encode(), ("好" * 1000).encode(), b"a"]


def _odd_strings(value):
    """`value` (a string tensor of a request) with its strings replaced by ODD_STRINGS: empty, blank, control
    characters, invisible and astral characters, invalid UTF-8, texts far longer than any window."""
    count = int(tf.size(value))
    return tf.reshape(tf.constant([ODD_STRINGS[i % len(ODD_STRINGS)] for i in range(count)], tf.string),
                      tf.shape(value))


def _check_int8(model, examples, float_rows):
    """int8 backbone weights: int8 kernels in the served graph, though the float model served before (the
    graph traced then read the float weights), and answers close to the float model's."""
    model.server().answer(examples[:1])
    server = quantize_backbone(model).server()
    served_variables = server.serve.get_concrete_function().variables
    assert tf.int8 in {variable.dtype for variable in served_variables}, "the served graph reads no int8 weights"
    rows = server.answer(examples)
    # Rounding may flip a borderline tag or token of a tiny model; most answers stay, and their scores barely
    # move (on average: one in hundreds may move by 0.1).
    same = [row for row, float_row in zip(rows, float_rows) if _readable([row]) == _readable([float_row])]
    assert len(same) >= 0.75 * len(rows), f"int8 changed {len(rows) - len(same)} of {len(rows)} answers"
    float_same = [f for row, f in zip(rows, float_rows) if _readable([row]) == _readable([f])]
    moved = np.abs(_numbers(same) - _numbers(float_same))
    assert moved.mean() < 0.01 and moved.max() < 0.15, f"int8 moved scores by {moved.mean():.4f} on average, " \
                                                       f"at most {moved.max():.4f}"


def _check_config_round_trip(model):
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = type(model).from_config(config)
    assert json.loads(json.dumps(rebuilt.get_config())) == config
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in model.weights]


def _check_mixed_precision(build, train):
    with precision_scope("mixed_bfloat16"):
        mixed = build()
    assert keras.config.dtype_policy().name == "float32"  # the scope gave the global policy back
    data = train(mixed) if callable(train) else mixed.make_dataset(mixed.examples(*train), batch_size=8)
    features = next(iter(data))[0]
    outputs = keras.tree.flatten(mixed(features, training=False))
    assert all(output.dtype == tf.float32 for output in outputs), [output.dtype for output in outputs]
    layers = list(mixed._flatten_layers())
    assert any(layer.compute_dtype == "bfloat16" for layer in layers), "no layer computes in bfloat16"
    assert {variable.dtype for variable in mixed.weights} == {"float32"}
