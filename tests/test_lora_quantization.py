"""LoRA fine-tuning with adapters saved apart and merged for inference; int8 evaluation from the CLI."""

import json
import os
import shutil

import keras
import numpy as np
import pytest

from conftest import run_tfllm
from tfllm import runner
from tfllm.backbones.gpt2_sources import gpt2_from_scratch, load_gpt2
from tfllm.configs.job import load_config
from tfllm.models.causal_lm import CausalLM
from tfllm.text.byte_pair_training import train_byte_pair_vocabulary
from tfllm.training.run_files import model_dir as run_model_dir

BASE_CORPUS = ["the dog ran to the tree", "a cat sat in the sun", "the bird sang on the log"] * 20
CORPUS = "\n\n".join(["the cat sat on the mat and the dog sat on the log"] * 30 + ["a bird sang in the tree"] * 30)


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):
    """A tiny GPT-2 preset dir standing in for a pretrained base, and a LoRA job trained on it."""
    root = tmp_path_factory.mktemp("lora")
    (root / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    files = train_byte_pair_vocabulary([str(root / "corpus.txt")], str(root / "bpe"), vocabulary_size=300,
                                       min_frequency=1)
    keras.utils.set_random_seed(0)
    base = CausalLM(*gpt2_from_scratch("tiny", *files, max_sequence_length=64, dropout=0.0))
    base.compile(optimizer=keras.optimizers.Adam(3e-3))  # a little pretraining, so the base knows the words
    base.fit(base.make_dataset(BASE_CORPUS, sequence_length=32, batch_size=4), epochs=15, verbose=0)
    base.save_to_dir(str(root / "base"))
    config_path = root / "lora.yaml"
    config_path.write_text(f"""
name: tinylora
task: causal_lm
run_dir: {root / 'run'}
backbone: {{source: {root / 'base'}, sequence_length: 32}}
data: {{train: corpus.txt, document_separator: "\\n\\n", validation_split: 0.1}}
training: {{epochs: 10, batch_size: 4, learning_rate: 1.0e-2, dropout: 0.0, lora_rank: 4, early_stopping_patience: null}}
generation: {{max_new_tokens: 8, temperature: 0.0}}
export: {{root: {root / 'savedmodels'}}}
""")
    config = load_config(str(config_path))
    runner.train(config, verbose=0)
    return config, root


def logits(lm, ids):
    return lm({"token_ids": ids, "padding_mask": np.ones_like(ids, bool)}).numpy()


def test_lora_trains_adapters_only_and_saves_them_apart(lora_run):
    config, root = lora_run
    model_dir = run_model_dir(config)
    assert sorted(os.listdir(model_dir)) == ["adapter.lora.h5", "tfllm.json"]  # no copy of the base weights
    assert os.path.getsize(os.path.join(model_dir, "adapter.lora.h5")) < os.path.getsize(root / "base" / "model.weights.h5") / 3
    history = json.load(open(root / "run" / "history.json"))
    assert history["loss"][-1] < history["loss"][0] * 0.9

    lora = CausalLM.load(model_dir)
    base, _ = load_gpt2(str(root / "base"))
    embedding = lora.backbone.token_embedding.embeddings.numpy()
    np.testing.assert_array_equal(embedding, base.token_embedding.embeddings.numpy())  # the base stayed frozen
    query = lambda backbone: backbone.get_layer("transformer_layer_0")._self_attention_layer._query_dense  # noqa: E731
    # The best checkpoint was restored before saving: its kernel is the base's again, the update in the adapter.
    np.testing.assert_allclose(query(lora.backbone)._kernel.numpy(), query(base).kernel.numpy(), atol=1e-5)
    ids = np.array(lora.tokenizer(["the cat sat on"]))
    merged = lora.merged()
    assert not query(merged.backbone).lora_enabled
    np.testing.assert_allclose(logits(merged, ids), logits(lora, ids), atol=1e-4)  # merging changes nothing
    plain = CausalLM(base, lora.tokenizer)
    assert np.abs(logits(plain, ids) - logits(lora, ids)).max() > 1e-2  # the adapters learned something
    # Adapters as tfllm 0.1 saved them (format 1: a flat tfllm.json) load the same model.
    shutil.copytree(model_dir, root / "format_1")
    (root / "format_1" / "tfllm.json").write_text(json.dumps({"task": "causal_lm", "chat": False,
                                                              "prompt_format": None, "lora_base": lora.lora_base}))
    np.testing.assert_allclose(logits(CausalLM.load(str(root / "format_1")), ids), logits(lora, ids), atol=1e-6)


def test_int8_evaluation_from_the_cli(lora_run):
    # The adapters are merged into the base, then its weights made int8 (`tfllm export --quantize int8`
    # of a GPT-2 is tested by the chat test: one GPT-2 export, about a minute on 2 cores, is enough).
    config, root = lora_run
    run = lambda *args: run_tfllm(*args, config.path)  # noqa: E731
    full, int8 = run("evaluate"), run("evaluate", "--quantize", "int8")
    assert full.returncode == 0 and int8.returncode == 0, int8.stderr[-3000:]
    full_report = json.load(open(root / "run" / "evaluation" / "validation" / "report.json"))
    int8_report = json.load(open(root / "run" / "evaluation" / "validation_int8" / "report.json"))
    assert int8_report["quantize"] == "int8"
    assert int8_report["perplexity"] == pytest.approx(full_report["perplexity"], rel=0.05)


@pytest.mark.parametrize("keys, message", [
    ("backbone: {source: scratch}\ntraining: {lora_rank: 4}", "training.lora_rank needs a pretrained backbone.source"),
    ("backbone: {source: gpt2_base_en}\ntraining: {lora_rank: 0}", "training.lora_rank: must be at least 1"),
    ("backbone: {source: gpt2_base_en}\nexport: {quantize: int4}", "export.quantize: must be one of int8"),
])
def test_lora_and_quantize_settings_are_checked_when_the_config_is_read(tmp_path, keys, message):
    path = tmp_path / "bad.yaml"
    path.write_text(f"name: bad\ntask: causal_lm\n{keys}\n")
    with pytest.raises(ValueError, match=f"bad.yaml: .*{message}"):
        load_config(str(path))
