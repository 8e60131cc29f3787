"""The README's Python snippets that name no files of the user's run as written."""

import os
import re

import pytest

from tfllm.backbones import embedded_default_path

README = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "README.md")


def python_snippets():
    """The README's ```python blocks, in order."""
    return re.findall(r"```python\n(.*?)```", open(README, encoding="utf-8").read(), re.S)


def shortened(snippet):
    """The snippet as written but fitting one epoch on its file's first 64 rows where it says three epochs
    on all of them: whether the code runs on the data it names does not depend on how long it trains (the
    whole file is still read and its labels taken), and the real model's training is most of this file's time."""
    shortened = (snippet.replace("epochs=3", "epochs=1").replace("total_steps=3 *", "total_steps=1 *")
                 .replace("make_dataset(examples,", "make_dataset(examples[:64],"))
    assert shortened.count("examples[:64]") == snippet.count("make_dataset(examples,") == 1
    assert "epochs=3" not in shortened
    return shortened


def test_the_classification_snippets_run_as_written(tmp_path, monkeypatch):
    try:
        embedded_default_path()
    except (ImportError, FileNotFoundError) as error:
        pytest.skip(f"the embedded default model is not installed ({error})")
    first, second = python_snippets()[:2]
    assert "build_text_classifier" in first and "examples/intents/train.csv" in second
    os.symlink(os.path.join(os.path.dirname(README), "examples"), tmp_path / "examples")
    monkeypatch.chdir(tmp_path)  # the snippets' relative paths: examples/ here, their export under tmp_path
    namespace = {}
    exec(first, namespace)  # noqa: S102 (the README's own code)
    exec(shortened(second), namespace)  # noqa: S102
    assert os.listdir(tmp_path / "savedmodels" / "sentiment") == ["1"]
    answers = namespace["intents"].predict(["where is my parcel?", "我要退款"])
    assert [set(row) for row in answers] == [{"text", "label", "probabilities"}] * 2
    compression = next(code for code in python_snippets() if "student_of" in code)
    exec(shortened(compression), namespace)  # noqa: S102 (continues from the intents snippet)
    student = namespace["student"]
    assert len(student.backbone.transformer_layers) == 3 and student.backbone.token_embedding.embeddings.dtype == "int8"
    assert os.listdir(tmp_path / "savedmodels" / "intents_small") == ["1"]


def test_the_embedding_snippet_runs_as_written(tmp_path, monkeypatch):
    try:
        embedded_default_path()
    except (ImportError, FileNotFoundError) as error:
        pytest.skip(f"the embedded default model is not installed ({error})")
    snippet = next(code for code in python_snippets() if "build_text_embedder" in code)
    monkeypatch.chdir(tmp_path)
    namespace = {}
    exec(snippet, namespace)  # noqa: S102 (the README's own code)
    assert namespace["vectors"].shape == (2, 384)
    assert [hit["id"] for hit in namespace["hits"]] == ["mars"]
    import tensorflow as tf

    search = tf.saved_model.load(str(tmp_path / "savedmodels" / "planets" / "1")).signatures["search"]
    found = search(query=tf.constant(["the red planet"]), k=tf.constant(1))
    assert found["ids"].numpy()[0, 0] == b"mars"
