import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfllm.backbones.gpt2_sources import gpt2_from_scratch
from tfllm.export.saved_model_export import export_for_serving
from tfllm.generation.decoding import next_tokens
from tfllm.tasks.causal_lm import CausalLM
from tfllm.tasks.causal_lm_serving import CausalLMServer
from tfllm.text.byte_pair_training import train_byte_pair_vocabulary
from tfllm.text.gpt2_tokenizer import END_TOKEN, GPT2Tokenizer

CORPUS = ["the cat sat on the mat.", "a dog ran in the park.", "猫坐在垫子上。", "the cat sat on the mat again."] * 30
MIXED = ["Hello, world!", "你好，世界", "emoji 🙂🚀 and ñ", "mixed 中文 words 123", "  spaces\tand\nnewlines  "]


@pytest.fixture(scope="session")
def vocabulary(tmp_path_factory):
    directory = tmp_path_factory.mktemp("bpe")
    corpus = directory / "corpus.txt"
    corpus.write_text("\n".join(CORPUS + MIXED), encoding="utf-8")
    return train_byte_pair_vocabulary([str(corpus)], str(directory), vocabulary_size=400, min_frequency=1)


@pytest.fixture(scope="session")
def trained_lm(vocabulary):
    keras.utils.set_random_seed(0)
    lm = CausalLM(*gpt2_from_scratch("tiny", *vocabulary, max_sequence_length=64, dropout=0.0))
    data = lm.make_dataset(CORPUS, sequence_length=32, batch_size=8, training=True, seed=0)
    lm.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = lm.fit(data, epochs=40, verbose=0)
    return lm, history.history["loss"]


def tokenize(tokenizer, texts):
    return tf.function(tokenizer.tokenize)(tf.constant(texts))


def test_byte_pair_vocabulary_round_trips_any_script(vocabulary):
    vocabulary_file, merges_file = vocabulary
    ids = json.load(open(vocabulary_file, encoding="utf-8"))
    assert ids[END_TOKEN] == len(ids) - 1 and 300 < len(ids) <= 400  # last, never 0 (KerasHub pads with 0)
    tokenizer = GPT2Tokenizer(vocabulary_file, merges_file)
    texts = MIXED + ["unseen words: Zürich, 東京, ☃"]
    tokens = tokenize(tokenizer, texts)
    assert tokens.row_lengths().numpy().min() > 0
    decoded = tf.function(tokenizer.detokenize)(tokens).numpy()
    assert [t.decode("utf-8") for t in decoded] == texts


def test_word_cache_stays_bounded(vocabulary):
    tokenizer = GPT2Tokenizer(*vocabulary, cache_size=40)
    for start in range(0, 200, 25):
        tokenize(tokenizer, [f"word{i}" for i in range(start, start + 25)])
        assert tokenizer.cache.size().numpy() <= 40
    # The end token is pinned in the cache, so it still comes out as one token after the cache emptied.
    assert tokenize(tokenizer, ["a" + END_TOKEN]).flat_values.numpy()[-1] == tokenizer.end_token_id


def test_packing_targets_every_token_once(trained_lm):
    lm, _ = trained_lm
    windows, weights = lm.pack(CORPUS[:7], sequence_length=16)
    stream = [lm.end_token_id]
    for text in CORPUS[:7]:
        stream += list(tokenize(lm.tokenizer, [text]).flat_values.numpy()) + [lm.end_token_id]
    assert windows.shape[1] == 17 and weights[:, 1:].sum() == len(stream) - 1
    targets = windows[:, 1:][weights[:, 1:] > 0]
    np.testing.assert_array_equal(targets, stream[1:])


def test_fit_lowers_loss_and_greedy_decoding_continues_the_corpus(trained_lm):
    lm, losses = trained_lm
    assert losses[-1] < 0.5 * losses[0]
    completions = lm.generate_text(["the cat sat on", "a dog ran"], max_new_tokens=6)
    assert completions[0].startswith(" the mat") and completions[1].startswith(" in the park")


def test_sampling_rules():
    logits = tf.math.log(tf.constant([[0.5, 0.3, 0.15, 0.05]] * 2000))

    def draw(temperature, top_k, top_p, seed=0):
        return next_tokens(logits, tf.constant(temperature), tf.constant(top_k), tf.constant(top_p),
                           tf.constant(seed, tf.int64), tf.constant(1)).numpy()

    assert set(draw(0.0, 0, 1.0)) == {0}  # greedy
    assert set(draw(1.0, 1, 1.0)) == {0}  # top-1
    assert set(draw(1.0, 2, 1.0)) == {0, 1}
    assert set(draw(1.0, 0, 0.7)) == {0, 1}  # 0.5 < 0.7 <= 0.8: the two most likely
    frequencies = np.bincount(draw(1.0, 0, 1.0), minlength=4) / 2000
    np.testing.assert_allclose(frequencies, [0.5, 0.3, 0.15, 0.05], atol=0.04)
    assert set(draw(0.05, 0, 1.0)) == {0}  # low temperature sharpens
    np.testing.assert_array_equal(draw(1.0, 0, 1.0, seed=5), draw(1.0, 0, 1.0, seed=5))
    assert not np.array_equal(draw(1.0, 0, 1.0, seed=5), draw(1.0, 0, 1.0, seed=6))


def test_seeds_reproduce_samples(trained_lm):
    lm, _ = trained_lm
    sample = lambda seed, prompts=("the",): lm.generate_text(  # noqa: E731
        list(prompts), max_new_tokens=12, temperature=3.0, top_k=0, top_p=1.0, seed=seed)
    assert sample(1) == sample(1)
    assert len({sample(seed)[0] for seed in range(6)}) > 1
    assert sample(1, ["the", "a dog"])[0] == sample(1)[0]  # a row's draws do not depend on its batch


def test_odd_prompts_get_answers_and_bad_lengths_clear_errors(trained_lm):
    lm, _ = trained_lm
    server = CausalLMServer(lm)
    inputs = server.example_inputs()
    inputs["prompts"] = tf.constant(["", b"caf\xc3 broken utf-8", "the cat " * 100])  # the last exceeds the context
    outputs = server.serve(**inputs)
    assert outputs["text"].shape == (3,)
    assert all(0 < n <= 8 for n in outputs["token_count"].numpy())
    for bad, message in [(0, "at least 1"), (-3, "at least 1"), (64, "below the context length 64")]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            server.serve(**{**inputs, "max_new_tokens": tf.constant(bad)})


def test_export_answers_like_the_keras_model_in_a_fresh_process(trained_lm, tmp_path):
    lm, _ = trained_lm
    path, report = export_for_serving(CausalLMServer(lm), str(tmp_path), "writer", metadata={"task": "causal_lm"})
    assert set(report["outputs"]) == {"text", "token_count", "ended"}
    assert os.path.exists(os.path.join(path, "assets.extra", "tf_serving_warmup_requests"))


def test_preset_dir_round_trip(trained_lm, tmp_path):
    lm, _ = trained_lm
    lm.save_to_dir(str(tmp_path / "preset"))
    restored = CausalLM.load(str(tmp_path / "preset"))
    assert restored.generate_text(["the cat sat on"], max_new_tokens=6) == lm.generate_text(["the cat sat on"],
                                                                                              max_new_tokens=6)
