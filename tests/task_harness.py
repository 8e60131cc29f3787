"""The check every BERT task model passes on a tiny backbone, like KerasHub's `run_task_test`."""

import numpy as np
import tensorflow as tf


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


def run_task_test(model, x, y, reload, tmp_path, epochs=3):
    """Fits `model` on raw inputs and checks what every task model promises.

    - `fit(x, y)` on raw strings lowers the training loss;
    - `predict(x)` answers in readable rows, the same as the serving module's `serve` outputs give;
    - `save_to_dir` and `reload(directory)` give a model with the same answers and scores;
    - the SavedModel of its server, loaded back, answers the same.

    Returns (the fitted model, its answer rows for `x`).
    """
    history = model.fit(x, y, batch_size=8, epochs=epochs, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0], f"fit did not lower the loss: {losses}"

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
    return model, rows
