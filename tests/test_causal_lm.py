import json
import os
import shutil

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf

from conftest import tensorflow_log
from task_harness import run_task_test
from tfllm.backbones.gpt2_sources import gpt2_from_scratch, load_gpt2
from tfllm.generation.decoding import next_tokens
from tfllm.models.causal_lm import CausalLM
from tfllm.models.causal_lm_serving import CausalLMServer
from tfllm.text.byte_pair_training import train_byte_pair_vocabulary
from tfllm.text.gpt2_tokenizer import END_TOKEN, GPT2Tokenizer
from tfllm.training.precision import precision_scope

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
    # Without XLA, as KerasHub's generate with jit_compile=False: each batch shape of the tests below would
    # compile for seconds. XLA decoding is the harness's, the servers' of test_odd_prompts and the exports'.
    lm.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    history = lm.fit(data, epochs=40, verbose=0)
    return lm, history.history["loss"]


def test_fit_and_evaluate_take_raw_documents_as_keras_hub_does(vocabulary):
    lm = CausalLM(*gpt2_from_scratch("tiny", *vocabulary, max_sequence_length=64, dropout=0.0))
    lm.compile(optimizer=keras.optimizers.Adam(3e-3), jit_compile=False)
    history = lm.fit(CORPUS, epochs=2, verbose=0, validation_data=CORPUS[:8]).history  # windows of 63 tokens
    assert history["loss"][-1] < history["loss"][0] and "val_perplexity" in history
    raw = lm.evaluate(CORPUS[:8], verbose=0, return_dict=True)
    assert raw == lm.evaluate(lm.make_dataset(CORPUS[:8], sequence_length=63), verbose=0, return_dict=True)
    assert lm.evaluate(pd.Series(CORPUS[:8]), verbose=0, return_dict=True) == raw  # a DataFrame's column
    for prompts in (["the cat"], pd.Series(["the cat"])):
        with pytest.raises(ValueError, match=r"generate_text\(prompts\)"):
            lm.predict(prompts)


def tokenize(tokenizer, texts):
    """Token ids (ragged) of texts (a batch: the tokenizer's graph, traced once per tokenizer)."""
    return tokenizer.tokenize(tf.constant(texts))


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


def test_a_process_with_many_tokenizers_gets_no_retracing_warning(vocabulary):
    """Each tokenizer traces its byte-pair graph once; TensorFlow counted every tokenizer's traces as one
    method's and warned of "retracing" at the fifth."""
    with tensorflow_log() as messages:
        for _ in range(6):
            tokenize(GPT2Tokenizer(*vocabulary), ["a word"])
    assert not [message for message in messages if "retracing" in message]


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
    inputs = server.example_requests()["serving_default"]
    inputs["prompts"] = tf.constant(["", b"caf\xc3 broken utf-8", "the cat " * 100])  # the last exceeds the context
    outputs = server.serve(**inputs)
    assert outputs["text"].shape == (3,)
    # Each row stops at its end token (or a stop string), or after max_new_tokens.
    assert all(n == 8 or ended for n, ended in zip(outputs["token_count"].numpy(), outputs["ended"].numpy()))
    assert outputs["token_count"].numpy().max() <= 8
    # The model, compiled with jit_compile=False, decodes without XLA: the same greedy answers (sampled ones
    # differ: XLA's random generator is not TensorFlow's).
    assert server.jit_compile and not lm.server().jit_compile
    greedy = {**inputs, "temperature": tf.constant(0.0)}
    jitted, unjitted = server.serve(**greedy), lm.server().serve(**greedy)
    for key in ("text", "token_count", "ended"):
        np.testing.assert_array_equal(unjitted[key], jitted[key])
    for key, bad, message in [("max_new_tokens", 0, "at least 1"), ("max_new_tokens", -3, "at least 1"),
                              ("max_new_tokens", 64, "below the context length 64"), ("top_p", 2.0, r"\(0, 1\]"),
                              ("top_p", 0.0, r"\(0, 1\]"), ("top_k", -3, "top_k must be >= 0"),
                              ("temperature", -1.0, "temperature must be >= 0")]:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            server.serve(**{**inputs, key: tf.constant(bad, inputs[key].dtype)})
        with pytest.raises(ValueError, match=f"{message}.*, not {bad:g}"):  # Python's callers get a ValueError
            lm.generate_text(["the cat"], **{"max_new_tokens": 4, key: bad})
    with pytest.raises(ValueError, match=r"num_beams must be at least 1 \(1: no beam search\), not 0"):
        lm.generate_text(["the cat"], max_new_tokens=4, num_beams=0)  # `tfllm generate --num-beams 0` sampled
    # A pandas column's empty cell (NaN) or a None is named by its place, as fit's raw documents are.
    with pytest.raises(ValueError, match=r"prompts\[1\]: expected a string, got float nan"):
        lm.generate_text(["the cat", float("nan")], max_new_tokens=4)
    with pytest.raises(ValueError, match=r"x\[1\]: expected a string, got NoneType None"):
        lm.fit(["the cat sat", None], epochs=1, verbose=0)
    # A stop string that is not valid UTF-8 is cleaned like a prompt, not a failure of the whole call.
    stopped = server.serve(**{**inputs, "stop": tf.constant([b"\xff\xfe", b"the"])})
    assert stopped["text"].shape == (3,) and not any(b"the" in text for text in stopped["text"].numpy())


def test_causal_lm_passes_the_task_harness(vocabulary, tmp_path):
    def build():
        keras.utils.set_random_seed(0)
        return CausalLM(*gpt2_from_scratch("tiny", *vocabulary, max_sequence_length=32, dropout=0.0))

    lm, rows = run_task_test(build, lambda lm: lm.make_dataset(CORPUS, sequence_length=16, batch_size=8, training=True),
                             lambda lm: ["the cat", "", "猫坐"], tmp_path)
    assert set(rows[0]) == {"prompt", "text", "token_count", "ended"}
    assert lm.server().jit_compile  # compiled by default: decoding in XLA (though Keras trains without it on CPU)
    assert all(row["token_count"] == 16 or row["ended"] for row in rows)  # half the context, or an end
    # A directory as tfllm 0.1 wrote it (format 1: a KerasHub preset and a flat tfllm.json) loads the same
    # model: its weights and vocabulary (what its server answers from, as the harness showed for format 2).
    (tmp_path / "model" / "tfllm.json").write_text(json.dumps({"task": "causal_lm", "chat": False,
                                                               "prompt_format": None, "lora_base": None}))
    old = CausalLM.load(str(tmp_path / "model"))
    assert (old.chat, old.prompt_format, old.tokenizer.vocabulary) == (lm.chat, lm.prompt_format, lm.tokenizer.vocabulary)
    for old_weight, weight in zip(old.weights, lm.weights, strict=True):
        np.testing.assert_array_equal(old_weight.numpy(), weight.numpy())


def test_a_model_trained_in_mixed_precision_loads_in_float32(vocabulary, tmp_path):
    with precision_scope("mixed_bfloat16"):
        lm = CausalLM(*gpt2_from_scratch("tiny", *vocabulary, max_sequence_length=64))
    assert lm.backbone.compute_dtype == "bfloat16" and lm.backbone.variable_dtype == "float32"
    lm.save_to_dir(str(tmp_path / "preset"))
    assert CausalLM.load(str(tmp_path / "preset")).backbone.compute_dtype == "float32"


def sequence_log_probability(lm, prompt, completion):
    """log p(completion | <|endoftext|> prompt) under the model, by one forward pass."""
    prompt_ids = [lm.end_token_id] + list(tokenize(lm.tokenizer, [prompt]).flat_values.numpy())
    completion_ids = list(tokenize(lm.tokenizer, [completion]).flat_values.numpy())
    ids = np.array([prompt_ids + completion_ids], np.int32)
    logits = lm({"token_ids": ids, "padding_mask": np.ones_like(ids, bool)})
    log_probs = tf.nn.log_softmax(logits[0]).numpy()
    return sum(log_probs[len(prompt_ids) - 1 + i, token] for i, token in enumerate(completion_ids))


def test_beam_search_finds_likelier_text_than_greedy(trained_lm):
    lm, _ = trained_lm
    prompts = ["the", "a dog ran in the park. the cat"]
    greedy = lm.generate_text(prompts, max_new_tokens=5)
    beams = lm.generate_text(prompts, max_new_tokens=5, num_beams=4)
    for prompt, greedy_text, beam_text in zip(prompts, greedy, beams):
        assert len(tokenize(lm.tokenizer, [beam_text]).flat_values) == 5  # the corpus never ends this early
        assert sequence_log_probability(lm, prompt, beam_text) >= sequence_log_probability(lm, prompt, greedy_text) - 1e-4
    # Rows of different prompt lengths decode as they do alone.
    assert lm.generate_text(prompts[1:], max_new_tokens=5, num_beams=4) == beams[1:]


def test_stop_strings_cut_the_text_where_one_first_appears(trained_lm):
    lm, _ = trained_lm
    full = lm.generate_text(["the cat sat"], max_new_tokens=12)[0]
    assert " mat." in full
    cut = lm.server().serve(tf.constant(["the cat sat"]), tf.constant(12), *lm._sampling(0.0, 0, 1.0, 0),
                          tf.constant(["(no)", "."]))  # a regex metacharacter is taken literally
    assert cut["text"].numpy()[0].decode() == full[: full.index(".")] and cut["ended"].numpy()[0]
    assert lm.generate_text(["the cat sat"], max_new_tokens=12, stop=[""]) == [full]  # empty strings are ignored
    # One prompt, or one stop string, is one (as KerasHub's generate takes it), not a list of its characters.
    assert lm.generate_text("the cat sat", max_new_tokens=12, stop=" mat") == full[: full.index(" mat")]
    assert lm.generate_text([], max_new_tokens=12) == []


def write_hugging_face_gpt2(backbone, tokenizer_files, directory):
    """Writes `backbone` as a Hugging Face GPT2LMHeadModel checkpoint dir (names, shapes, config keys)."""
    from safetensors.numpy import save_file

    n = backbone.hidden_dim
    weights = {"wte.weight": backbone.token_embedding.embeddings,
               "wpe.weight": backbone.position_embedding.position_embeddings,
               "ln_f.weight": backbone.layer_norm.gamma, "ln_f.bias": backbone.layer_norm.beta}
    for i, layer in enumerate(backbone.transformer_layers):
        attention = layer._self_attention_layer
        dense = (attention.query_dense, attention.key_dense, attention.value_dense)
        weights.update({
            f"h.{i}.ln_1.weight": layer._self_attention_layer_norm.gamma,
            f"h.{i}.ln_1.bias": layer._self_attention_layer_norm.beta,
            f"h.{i}.ln_2.weight": layer._feedforward_layer_norm.gamma,
            f"h.{i}.ln_2.bias": layer._feedforward_layer_norm.beta,
            f"h.{i}.attn.c_attn.weight": np.concatenate([np.reshape(d.kernel.numpy(), [n, n]) for d in dense], 1),
            f"h.{i}.attn.c_attn.bias": np.concatenate([np.reshape(d.bias.numpy(), [n]) for d in dense]),
            f"h.{i}.attn.c_proj.weight": np.reshape(attention.output_dense.kernel.numpy(), [n, n]),
            f"h.{i}.attn.c_proj.bias": attention.output_dense.bias,
            f"h.{i}.mlp.c_fc.weight": layer._feedforward_intermediate_dense.kernel,
            f"h.{i}.mlp.c_fc.bias": layer._feedforward_intermediate_dense.bias,
            f"h.{i}.mlp.c_proj.weight": layer._feedforward_output_dense.kernel,
            f"h.{i}.mlp.c_proj.bias": layer._feedforward_output_dense.bias,
        })
    os.makedirs(directory)
    # GPT2LMHeadModel saves its body under "transformer."; the tied LM head is not stored.
    save_file({f"transformer.{k}": np.ascontiguousarray(np.asarray(v), np.float32) for k, v in weights.items()},
              os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    config = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": backbone.vocabulary_size,
              "n_layer": backbone.num_layers, "n_head": backbone.num_heads, "n_embd": n,
              "n_positions": backbone.max_sequence_length, "resid_pdrop": 0.1, "layer_norm_epsilon": 1e-5}
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    for source, name in zip(tokenizer_files, ("vocab.json", "merges.txt")):
        shutil.copy(source, os.path.join(directory, name))


def test_hugging_face_checkpoint_dir_loads_with_its_weights(trained_lm, vocabulary, tmp_path):
    lm, _ = trained_lm
    write_hugging_face_gpt2(lm.backbone, vocabulary, str(tmp_path / "hf"))
    restored = CausalLM(*load_gpt2(str(tmp_path / "hf")))
    restored.compile(jit_compile=False)  # as lm: an XLA compile here would check nothing more
    ids = np.array([tokenize(lm.tokenizer, ["the cat sat on the mat."]).flat_values.numpy()], np.int32)
    inputs = {"token_ids": ids, "padding_mask": np.ones_like(ids, bool)}
    np.testing.assert_allclose(restored(inputs), lm(inputs), atol=1e-4)
    assert restored.generate_text(["the cat sat on"], max_new_tokens=6) == lm.generate_text(["the cat sat on"],
                                                                                              max_new_tokens=6)


def test_generation_reads_adapters_enabled_after_a_first_generation(vocabulary):
    keras.utils.set_random_seed(0)
    lm = CausalLM(*gpt2_from_scratch("tiny", *vocabulary, max_sequence_length=64, dropout=0.0))
    lm.compile(jit_compile=False)
    before = lm.generate_text(["the cat"], max_new_tokens=8)
    lm.enable_lora(2, base="tiny")
    for layer in lm._lora_layers():  # as if trained: adapters start at zero, changing nothing
        layer.lora_kernel_b.assign(np.random.default_rng(0).normal(0.0, 1.0, layer.lora_kernel_b.shape))
    served = lm.server().serve.get_concrete_function().variables
    assert any("lora" in variable.name for variable in served), "the served graph reads no adapter"
    assert lm.generate_text(["the cat"], max_new_tokens=8) != before


def test_a_validation_share_that_leaves_nothing_to_train_on_is_refused(tmp_path):
    # A .txt file is one document unless data.document_separator splits it: its 10% share was the whole
    # file, and the run "trained" one step on nothing, loss 0.
    from tfllm.configs.job import load_config
    from tfllm.runner import task_of

    (tmp_path / "plays.txt").write_text("ROMEO:\nO, she doth teach.\n\nJULIET:\nAy me.\n\nROMEO:\nShe speaks.\n")
    (tmp_path / "job.yaml").write_text("name: lm\ntask: causal_lm\nbackbone: {source: scratch}\n"
                                       "data: {train: plays.txt, validation_split: 0.1}\n")
    config = load_config(str(tmp_path / "job.yaml"))
    with pytest.raises(ValueError, match=r"job.yaml: data.validation_split: a 10% share of the 1 example\(s\) of "
                                         r"data.train leaves none to train on: give data.validation, or more "
                                         r"examples \(a .txt file is one document unless data.document_separator"):
        task_of(config).splits(config)
    config = load_config(str(tmp_path / "job.yaml"), ["data.document_separator=\"\\n\\n\""])
    train, validation = task_of(config).splits(config)
    assert [len(train), len(validation)] == [2, 1] and validation[0].startswith("ROMEO:\nShe")
