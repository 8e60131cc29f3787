"""Chat: the training format, history truncation, readers, and `tfllm chat` through a pseudo-terminal."""

import json
import os
import pty
import select
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_tfllm
from tfllm.configs.job import load_config
from tfllm.data.corpus_readers import read_dialogues, read_documents
from tfllm.data.examples import DataError
from tfllm.data.packing import pack_examples
from tfllm.models.causal_lm import CausalLM
from tfllm.models.chat_format import chat_prompt_ids, chat_training_examples
from tfllm.text.byte_pair_training import train_byte_pair_vocabulary
from tfllm.text.gpt2_tokenizer import GPT2Tokenizer
from tfllm.training.run_files import model_dir

DIALOGUES = [("hi", "hello", "how are you", "fine thanks"), ("what is your name", "i am bot"),
             ("你好", "你好呀")] * 20


@pytest.fixture(scope="module")
def chat_run(tmp_path_factory):
    """A tiny chat model trained by `tfllm train` on DIALOGUES: (its config path, what training printed)."""
    root = tmp_path_factory.mktemp("chat")
    (root / "train.jsonl").write_text("".join(json.dumps({"turns": list(d)}, ensure_ascii=False) + "\n"
                                              for d in DIALOGUES), encoding="utf-8")
    config = root / "chat.yaml"
    # Windows as long as the context (63 + 1 tokens), so every position a long history reaches is trained:
    # with 32, whether the reply to "how are you" was learned depended on the data order.
    config.write_text(f"""
name: tinychat
task: chat
run_dir: {root / 'run'}
backbone: {{source: scratch, size: tiny, vocabulary_size: 350, context_length: 64, sequence_length: 63}}
data: {{train: train.jsonl, validation: train.jsonl}}
training: {{epochs: 14, batch_size: 8, learning_rate: 6.0e-3, dropout: 0.0, early_stopping_patience: null}}
generation: {{max_new_tokens: 8, temperature: 0.0, samples: [hi]}}
export: {{root: {root / 'savedmodels'}}}
""")
    trained = run_tfllm("train", config)
    assert trained.returncode == 0, trained.stderr[-3000:]
    return config, trained.stdout


@pytest.fixture(scope="module")
def chat_lm(chat_run):
    lm = CausalLM.load(str(model_dir(load_config(str(chat_run[0])))))
    lm.compile(jit_compile=False)  # XLA compiles each batch shape for seconds; `tfllm chat` and the export use it
    return lm


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    """A BPE tokenizer of DIALOGUES and the chat format's words: the format tests need no trained model."""
    directory = tmp_path_factory.mktemp("chat_bpe")
    corpus = directory / "corpus.txt"
    corpus.write_text("\n".join(turn for dialogue in DIALOGUES for turn in dialogue) + "\nUser: Bot:", encoding="utf-8")
    return GPT2Tokenizer(*train_byte_pair_vocabulary([str(corpus)], str(directory), vocabulary_size=350,
                                                     min_frequency=1))


def detokenize(tokenizer, ids):
    return tokenizer.detokenize(tf.ragged.constant([ids]))[0]  # eager: Python strings


def test_training_examples_train_each_reply_once_and_keep_history(tokenizer):
    dialogue = ("hi", "hello", "how are you", "fine thanks", "what is your name", "i am bot")
    examples = chat_training_examples(tokenizer, [dialogue], tokenizer.end_token_id, window=24)
    assert len(examples) > 1  # too long for one window
    trained = "".join(detokenize(tokenizer, [t for t, w in zip(ids, weights) if w]) for ids, weights in examples)
    end = "<|endoftext|>"
    assert trained == f" hello{end} fine thanks{end} i am bot{end}"  # replies only, each once, with their end
    later = detokenize(tokenizer, examples[1][0])
    # The next example starts with the latest turns that fit, as untrained history.
    assert later == f"{end} fine thanks{end}User: what is your name\nBot: i am bot{end}"
    windows, weights = pack_examples(examples, tokenizer.end_token_id, 24)
    assert windows.shape[1] == 24 and weights.sum() == sum(sum(w) for _, w in examples)


def test_history_is_truncated_from_the_oldest_turn(tokenizer):
    history = tf.constant([["hi", "hello", "how are you", "fine thanks", "what is your name"], ["你好", "", "", "", ""]])
    full = tf.function(chat_prompt_ids)(tokenizer, history, 1000, tokenizer.end_token_id)
    end = "<|endoftext|>"
    assert detokenize(tokenizer, full[0].numpy()) == (
        f"User: hi\nBot: hello{end}User: how are you\nBot: fine thanks{end}User: what is your name\nBot:")
    assert detokenize(tokenizer, full[1].numpy()) == "User: 你好\nBot:"
    short = tf.function(chat_prompt_ids)(tokenizer, history, len(full[0]) - 1, tokenizer.end_token_id)
    assert detokenize(tokenizer, short[0].numpy()) == (  # one token too many: the oldest turn goes, whole
        f" hello{end}User: how are you\nBot: fine thanks{end}User: what is your name\nBot:")
    tiny = tf.function(chat_prompt_ids)(tokenizer, history, 3, tokenizer.end_token_id)
    assert detokenize(tokenizer, tiny[0].numpy()).endswith("\nBot:")  # the latest turn keeps its end


def test_replies_follow_the_conversation(chat_lm):
    replies = chat_lm.reply([["hi"], ["hi", "hello", "how are you"], ["what is your name"]], max_new_tokens=8)
    assert replies == ["hello", "fine thanks", "i am bot"]
    assert chat_lm.reply(["hi", "hello", "how are you"], max_new_tokens=8) == "fine thanks"  # one history, its reply
    with pytest.raises(ValueError, match=r"histories\[1\]\[0\]: expected a string, got NoneType None"):
        chat_lm.reply([["hi"], [None]], max_new_tokens=8)
    # Raw dialogues (fit, evaluate) make the chat batches, the replies its targets.
    raw, made = chat_lm.raw_dataset(DIALOGUES, sequence_length=32), chat_lm.make_chat_dataset(DIALOGUES, 32)
    batches = list(zip(raw, made))
    assert batches and len(batches) == len(list(made))
    for (features, _, weights), (made_features, _, made_weights) in batches:
        assert np.array_equal(features["token_ids"], made_features["token_ids"])
        assert np.array_equal(weights, made_weights)
    # A history far longer than the context loses its oldest turns whole (each of these fills the context).
    filler = ["blah " * 60, "blah " * 60] * 5
    assert chat_lm.reply([filler + ["hi", "hello", "how are you"]], max_new_tokens=8) == ["fine thanks"]


def test_dialogue_readers_and_their_bad_rows(tmp_path):
    daily = tmp_path / "dialogues.txt"
    daily.write_text("Say , Jim , how about a beer ? __eou__ I don't think so . __eou__\n", encoding="utf-8")
    [dialogue] = read_dialogues(str(daily), "dailydialog").examples
    assert dialogue.turns == ("Say, Jim, how about a beer?", "I don't think so.") and dialogue.source.endswith(":1")

    lccc = tmp_path / "toy.json"
    lccc.write_text(json.dumps({"train": [["你 好", "你 好 呀"]], "valid": []}, ensure_ascii=False), encoding="utf-8")
    assert read_dialogues(f"{lccc}#train", remove_spaces=True).examples[0].turns == ("你好", "你好呀")
    with pytest.raises(DataError, match=r"toy.json:1: field 'test'.*\['train', 'valid'\]"):
        read_dialogues(f"{lccc}#test")

    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"turns": ["a", "b"]}\n{"turns": ["a", ""]}\n{"turns": ["only one"]}\nnot json\n'
                    b'{"text": "x"}\n{"turns": ["caf\xc3", "b"]}\n')
    with pytest.raises(DataError) as error:
        read_dialogues(str(bad))
    message = str(error.value)
    for expected in ["bad.jsonl:2: field 'turns[1]': empty turn", "bad.jsonl:3: field 'turns': a dialogue needs",
                     "bad.jsonl:4: field '<row>': invalid JSON", "bad.jsonl:5: field 'turns': missing",
                     "bad.jsonl:6: field '<row>': not valid UTF-8"]:
        assert expected in message
    skipped = read_dialogues(str(bad), on_bad_rows="skip")
    assert len(skipped.examples) == 1 and len(skipped.bad_rows) == 5


def test_document_reader_splits_and_reports_undecodable_lines(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(b"First doc\nstill first.\n\nSecond doc.\n\n\n")
    assert read_documents(str(corpus), document_separator="\n\n").examples == ["First doc\nstill first.", "Second doc."]
    assert len(read_documents(str(corpus)).examples) == 1
    corpus.write_bytes(b"good\n\xff bad\n")
    with pytest.raises(DataError, match=r"corpus.txt:2: field '<row>': not valid UTF-8"):
        read_documents(str(corpus))


def read_until(fd, marker, timeout=120):
    output = b""
    deadline = time.time() + timeout
    while marker.encode() not in output:
        assert time.time() < deadline, f"no {marker!r} in {output.decode(errors='replace')!r}"
        if select.select([fd], [], [], 1)[0]:
            output += os.read(fd, 4096)
    return output.decode(errors="replace")


def test_chat_cli_in_a_pseudo_terminal(chat_run, tmp_path):
    config, trained = chat_run
    run_dir = config.parent / "run"
    assert "sample after epoch 14: 'hi' -> 'hello'" in trained
    assert os.listdir(run_dir / "tensorboard" / "samples")  # the samples' text summaries
    evaluated = run_tfllm("evaluate", config)
    report = json.load(open(run_dir / "evaluation" / "validation" / "report.json"))
    assert evaluated.returncode == 0 and report["perplexity"] < 1.5 and report["tokens"] > 0

    primary, replica = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "tfllm.cli", "chat", str(config)], stdin=replica,
                               stdout=replica, stderr=subprocess.DEVNULL, close_fds=True)
    os.close(replica)
    try:
        read_until(primary, "you> ")
        os.write(primary, b"hi\n")
        assert "bot> hello" in read_until(primary, "you> ")
        os.write(primary, b"how are you\n")
        assert "bot> fine thanks" in read_until(primary, "you> ")  # the reply depends on the history
        os.write(primary, b"/reset\n")
        assert "(new conversation)" in read_until(primary, "you> ")
        os.write(primary, b"how are you\n")
        assert "bot> fine thanks" not in read_until(primary, "you> ")  # without the history it is another answer
        os.write(primary, b"/exit\n")
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        os.close(primary)

    generated = run_tfllm("generate", config, "--prompt", "User: what is your name\nBot:", "--num-beams", "2", "--json")
    assert generated.returncode == 0, generated.stderr[-3000:]
    assert json.loads(generated.stdout.splitlines()[-1])["text"].startswith(" i am bot")

    # int8 weights here, so that one GPT-2 export (about a minute on 2 cores) checks both in a fresh process.
    exported = run_tfllm("export", config, "--quantize", "int8", "--set", f"export.root={tmp_path / 'savedmodels'}")
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert "outputs match for beam_search, chat, serving_default" in exported.stdout
    version = tmp_path / "savedmodels" / "tinychat" / "1"
    assert json.load(open(version / "assets.extra" / "tfllm_metadata.json"))["quantize"] == "int8"
    dtypes = tf.train.load_checkpoint(str(version / "variables" / "variables")).get_variable_to_dtype_map()
    assert tf.int8 in dtypes.values()  # the served weights are int8
