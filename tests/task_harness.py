"""The check every BERT task model passes on a tiny backbone, like KerasHub's `run_task_test`."""

import json

import keras
import numpy as np
import tensorflow as tf

from tfllm.training.optimizer import adamw
from tfllm.training.precision import precision_scope


def _numbers(rows):
    """The scores in answer rows (probabilities, entity or answer scores), in order."""
    values = []
    for row in rows:
        values.extend(row.get("probabilities", {}).values())
        values.extend(entity["score"] for entity in row.get("entities", []))
        if "score" in row:
            values.append(row["score"])
    return np.array(values, np.float32)


def _readable(rows):
    """The answer rows without their scores: what must match exactly."""
    keep = lambda row: {k: ([{**e, "score": None} for e in v] if k == "entities" else v)  # noqa: E731
                        for k, v in row.items() if k not in ("probabilities", "score")}
    return [keep(row) for row in rows]


def run_task_test(build, x, y, reload, tmp_path, epochs=3):
    """Builds a model with `build()` and checks, on raw inputs, what every task model promises.

    - `compile()` gives the task's loss and metrics: `fit(x, y)` on raw strings lowers the training loss;
    - `get_config()` is JSON, and `from_config` builds the same model (config and weight shapes);
    - `predict(x)` answers in readable rows, the same as the serving module's `serve` outputs give;
    - `save_to_dir` and `reload(directory)` give a model with the same answers and scores;
    - the SavedModel of its server, loaded back, answers the same;
    - built under `mixed_bfloat16`, it computes in bfloat16 with float32 variables and float32 outputs.

    Returns (the fitted model, its answer rows for `x`).
    """
    model = build()
    model.compile(optimizer=adamw(1e-3))
    history = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0], f"fit did not lower the loss: {losses}"

    _check_config_round_trip(model)

    rows = model.predict(x)
    assert len(rows) == len(model.examples(x)) and all(isinstance(row, dict) for row in rows)

    model.save_to_dir(str(tmp_path / "model"))
    restored = reload(str(tmp_path / "model"))
    restored_rows = restored.predict(x)
    assert _readable(restored_rows) == _readable(rows)
    np.testing.assert_allclose(_numbers(restored_rows), _numbers(rows), atol=1e-5)

    server = model.server()
    tf.saved_model.save(server, str(tmp_path / "saved_model"), signatures=server.signatures())
    serve = tf.saved_model.load(str(tmp_path / "saved_model")).signatures["serving_default"]
    examples = model.examples(x)
    inputs = {name: tf.constant(values) for name, values in server.requests(examples).items()}
    exported_rows = server.answers(examples, {name: value.numpy() for name, value in serve(**inputs).items()})
    assert _readable(exported_rows) == _readable(rows)
    np.testing.assert_allclose(_numbers(exported_rows), _numbers(rows), atol=1e-5)

    _check_mixed_precision(build, model.examples(x, y))
    return model, rows


def _check_config_round_trip(model):
    config = json.loads(json.dumps(model.get_config()))
    rebuilt = type(model).from_config(config)
    assert json.loads(json.dumps(rebuilt.get_config())) == config
    assert [w.shape for w in rebuilt.weights] == [w.shape for w in model.weights]


def _check_mixed_precision(build, examples):
    with precision_scope("mixed_bfloat16"):
        mixed = build()
    assert keras.config.dtype_policy().name == "float32"  # the scope gave the global policy back
    features = next(iter(mixed.make_dataset(examples, batch_size=8)))[0]
    outputs = keras.tree.flatten(mixed(features, training=False))
    assert all(output.dtype == tf.float32 for output in outputs), [output.dtype for output in outputs]
    layers = list(mixed._flatten_layers())
    assert any(layer.compute_dtype == "bfloat16" for layer in layers), "no layer computes in bfloat16"
    assert {variable.dtype for variable in mixed.weights} == {"float32"}
