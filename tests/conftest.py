"""Tiny models in every format tfllm reads, built locally (no downloads), and synthetic labeled data."""

import contextlib
import io
import json
import logging
import os
import random
import subprocess

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tfllm.backbones.tf_hub_export import export_tf_hub_bert  # noqa: E402
from tfllm.data.examples import TextExample  # noqa: E402

SHARED_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
POSITIVE, NEGATIVE = ["good", "great", "fine"], ["bad", "awful", "poor"]
FILLER = ["the", "movie", "was", "film", "plot", "acting", "really", "quite", "you", "好", "电", "影"]
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *POSITIVE, *NEGATIVE, *FILLER, "##s", "!", ",", ".",
              "[unused0]", "[unused1]", "[unused2]", "[unused3]"]
# One layer: tracing a model's graphs is most of a test's time, and each layer adds to it (a second one
# made the classifier harness test about a fifth slower); the tests that need two ask for them.
TINY = dict(num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=64)
# The slowest test files, slowest first (seconds in a full run on 2 cores, `--durations=0`, 2026-12-07).
# The test command runs files whole on 2 workers (`-n auto --dist loadfile`), each worker taking the next
# file when it nears the end of its own. xdist's default order (most tests first) put these files of few,
# long tests last, and one worker sat idle while the other ran them; setup.cfg keeps the collection
# order instead (`--no-loadscope-reorder`), these first, so that the short files fill the end.
SLOWEST_FILES = ("test_chat.py",  # 167
                 "test_readme.py",  # 162
                 "test_masked_lm.py", "test_span_extractor.py", "test_causal_lm.py", "test_text_embedding.py",  # 101-126
                 "test_token_classifier.py", "test_training.py",  # 84-87
                 "test_conditional.py", "test_distribution.py", "test_distillation.py", "test_classifier.py")  # 66-70


def pytest_collection_modifyitems(items):
    """Puts the tests of SLOWEST_FILES first, in its order; the rest keep theirs (a stable sort)."""
    rank = {name: i for i, name in enumerate(SLOWEST_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


def shared_data(*parts):
    """Path of a file in ../shared/data, or skip the test saying what is missing."""
    path = os.path.join(SHARED_DATA, *parts)
    if not os.path.exists(path):
        pytest.skip(f"needs ../shared/data/{'/'.join(parts)} (the shared data folder beside the checkout)")
    return path


def run_tfllm(*args):
    """Runs `tfllm ARGS` through the CLI's `main` in this process (a fresh interpreter would add seconds of
    imports to every call; `tests/test_chat.py` runs the real command in a terminal). Returns a
    CompletedProcess with the exit code and what the command printed."""
    from tfllm.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            code = main([str(arg) for arg in args])
        except SystemExit as exit_:  # argparse's usage errors
            code = exit_.code
    return subprocess.CompletedProcess(args, code, stdout.getvalue(), stderr.getvalue())


@contextlib.contextmanager
def tensorflow_log():
    """The messages TensorFlow's Python logger writes inside the block (its own warnings)."""
    import tensorflow as tf

    messages = []
    handler = logging.Handler()
    handler.emit = lambda record: messages.append(record.getMessage())
    tf.get_logger().addHandler(handler)
    try:
        yield messages
    finally:
        tf.get_logger().removeHandler(handler)


def bert_job_config(tmp_path, name, task, backbone_source, sequence_length, data, training, model=None):
    """Writes a job config for a tiny BERT task under `tmp_path` (runs and exports there too); returns its path."""
    config = tmp_path / f"{name}.yaml"
    config.write_text(json.dumps({
        "name": name, "task": task, "run_dir": str(tmp_path / "run"),
        "backbone": {"source": backbone_source, "sequence_length": sequence_length}, "data": data,
        **({"model": model} if model else {}),
        "training": {"batch_size": 16, "learning_rate": 3.0e-3, **training},
        "export": {"root": str(tmp_path / "savedmodels")}}))
    return config


def sentiment_examples(count, seed=0, pair=False):
    """Sentences whose label is decided by one sentiment word among filler words."""
    rng = random.Random(seed)
    examples = []
    for i in range(count):
        label = rng.choice(["negative", "positive"])
        words = rng.sample(FILLER, 4) + [rng.choice(POSITIVE if label == "positive" else NEGATIVE)]
        rng.shuffle(words)
        text_pair = " ".join(rng.sample(FILLER, 3)) if pair else None
        examples.append(TextExample(" ".join(words), text_pair, label, f"synthetic:{i + 1}"))
    return examples


@pytest.fixture(scope="session")
def vocabulary_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCABULARY) + "\n", encoding="utf-8")
    return str(path)


def tiny_backbone(seed=0, **shape):
    keras.utils.set_random_seed(seed)
    return keras_hub.models.BertBackbone(vocabulary_size=len(VOCABULARY), **{**TINY, **shape})


def tiny_preset_dir(tmp_path_factory, vocabulary_file, **shape):
    """A KerasHub BERT preset directory of a tiny backbone (TINY, with `shape`'s changes) and VOCABULARY."""
    directory = str(tmp_path_factory.mktemp("keras_hub_preset"))
    tiny_backbone(1, **shape).save_to_preset(directory)
    keras_hub.models.BertTokenizer(vocabulary=vocabulary_file, lowercase=True).save_to_preset(directory)
    return directory


@pytest.fixture(scope="session")
def keras_hub_preset_dir(tmp_path_factory, vocabulary_file):
    return tiny_preset_dir(tmp_path_factory, vocabulary_file)


@pytest.fixture(scope="session")
def two_layer_preset_dir(tmp_path_factory, vocabulary_file):
    """The tiny preset with two layers: for a teacher with a 1-layer student, and a reader, whose second
    layer lets the context's words see the question's."""
    return tiny_preset_dir(tmp_path_factory, vocabulary_file, num_layers=2)


@pytest.fixture(scope="session")
def hf_checkpoint_dir(tmp_path_factory, vocabulary_file):
    """A Hugging Face BERT checkpoint dir: config.json, model.safetensors (HF names), vocab.txt."""
    from safetensors.numpy import save_file

    directory = tmp_path_factory.mktemp("hf_bert")
    backbone = tiny_backbone(2)
    hidden = TINY["hidden_dim"]
    tensors = {
        "embeddings.word_embeddings.weight": backbone.get_layer("token_embedding").embeddings.numpy(),
        "embeddings.position_embeddings.weight": backbone.get_layer("position_embedding").position_embeddings.numpy(),
        "embeddings.token_type_embeddings.weight": backbone.get_layer("segment_embedding").embeddings.numpy(),
        "embeddings.LayerNorm.weight": backbone.get_layer("embeddings_layer_norm").gamma.numpy(),
        "embeddings.LayerNorm.bias": backbone.get_layer("embeddings_layer_norm").beta.numpy(),
        "pooler.dense.weight": backbone.get_layer("pooled_dense").kernel.numpy().T,
        "pooler.dense.bias": backbone.get_layer("pooled_dense").bias.numpy(),
    }
    for i in range(TINY["num_layers"]):
        block = backbone.get_layer(f"transformer_layer_{i}")
        attention = block._self_attention_layer
        prefix = f"encoder.layer.{i}."
        for name, dense in (("query", attention.query_dense), ("key", attention.key_dense),
                            ("value", attention.value_dense)):
            tensors[f"{prefix}attention.self.{name}.weight"] = dense.kernel.numpy().reshape(hidden, hidden).T
            tensors[f"{prefix}attention.self.{name}.bias"] = dense.bias.numpy().reshape(hidden)
        tensors[f"{prefix}attention.output.dense.weight"] = attention.output_dense.kernel.numpy().reshape(hidden, hidden).T
        tensors[f"{prefix}attention.output.dense.bias"] = attention.output_dense.bias.numpy()
        for hf_name, norm in (("attention.output.LayerNorm", block._self_attention_layer_norm),
                              ("output.LayerNorm", block._feedforward_layer_norm)):
            tensors[f"{prefix}{hf_name}.weight"], tensors[f"{prefix}{hf_name}.bias"] = norm.gamma.numpy(), norm.beta.numpy()
        for hf_name, dense in (("intermediate.dense", block._feedforward_intermediate_dense),
                               ("output.dense", block._feedforward_output_dense)):
            tensors[f"{prefix}{hf_name}.weight"], tensors[f"{prefix}{hf_name}.bias"] = dense.kernel.numpy().T, dense.bias.numpy()
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()}, str(directory / "model.safetensors"))
    (directory / "config.json").write_text(json.dumps({
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": len(VOCABULARY),
        "hidden_size": hidden, "num_hidden_layers": TINY["num_layers"], "num_attention_heads": TINY["num_heads"],
        "intermediate_size": TINY["intermediate_dim"], "max_position_embeddings": TINY["max_sequence_length"],
        "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12}))
    (directory / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "tokenizer_class": "BertTokenizer"}))
    (directory / "vocab.txt").write_text(open(vocabulary_file, encoding="utf-8").read(), encoding="utf-8")
    return str(directory), backbone


@pytest.fixture(scope="session")
def tf_hub_dirs(tmp_path_factory, vocabulary_file):
    """TF-Hub-format BERT encoder and preprocess SavedModels (Model Garden variable names)."""
    directory = tmp_path_factory.mktemp("tf_hub")
    backbone = tiny_backbone(3)
    encoder, preprocess = str(directory / "encoder"), str(directory / "preprocess")
    export_tf_hub_bert(backbone, vocabulary_file, True, encoder, preprocess, seq_length=16)
    return encoder, preprocess, backbone
