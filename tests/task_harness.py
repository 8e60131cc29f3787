"""The check every task model passes on a tiny backbone, like KerasHub's `run_task_test`."""

import json

import keras
import numpy as np
import tensorflow as tf

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


def run_task_test(build, train, requests, tmp_path, epochs=3):
    """Builds a model with `build()` and checks what every task model promises.

    Args:
        build: makes a fresh model (seeded, on a tiny backbone).
        train: (x, y), raw inputs and labels for `fit` (BERT task models), or `train(model)`, a dataset.
        requests: `requests(model)`, the examples its server answers (texts, prompts, ...).
        epochs: of the fit.

    Checks:
    - `compile()` gives the task's loss and metrics: `fit` lowers the training loss;
    - `get_config()` is JSON, and `from_config` builds the same model (config and weight shapes);
    - `save_to_dir` and `load` give a model whose server answers the same, scores included;
    - the SavedModel of its server (`TaskServer`), loaded back, answers the same;
    - built under `mixed_bfloat16`, it computes in bfloat16 with float32 variables and float32 outputs.
    BERT task models also answer raw strings with `predict(x)`, as their server does.

    Returns (the fitted model, its server's answer rows).
    """
    model = build()
    model.compile(optimizer=adamw(1e-3))
    if callable(train):
        history = model.fit(train(model), epochs=epochs, verbose=0)
    else:
        history = model.fit(*train, batch_size=8, epochs=epochs, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0], f"fit did not lower the loss: {losses}"

    _check_config_round_trip(model)

    examples = requests(model)
    server = model.server()
    rows = server.answer(examples)
    assert len(rows) == len(examples) and all(isinstance(row, dict) for row in rows)
    if not callable(train):
        assert model.predict(train[0]) == rows

    model.save_to_dir(str(tmp_path / "model"))
    restored_rows = type(model).load(str(tmp_path / "model")).server().answer(examples)
    assert _readable(restored_rows) == _readable(rows)
    np.testing.assert_allclose(_numbers(restored_rows), _numbers(rows), atol=1e-5)

    tf.saved_model.save(server, str(tmp_path / "saved_model"), signatures=server.signatures())
    serve = tf.saved_model.load(str(tmp_path / "saved_model")).signatures["serving_default"]
    inputs = {name: values if tf.is_tensor(values) else tf.constant(values)
              for name, values in server.requests(examples).items()}
    exported_rows = server.answers(examples, {name: value.numpy() for name, value in serve(**inputs).items()})
    assert _readable(exported_rows) == _readable(rows)
    np.testing.assert_allclose(_numbers(exported_rows), _numbers(rows), atol=1e-5)

    _check_mixed_precision(build, train)
    return model, rows


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
