"""Conditional generation: pair readers, the prompt format, ROUGE/BLEU, and a translation job from YAML to export."""

import json
import random
import re

import pytest
import tensorflow as tf

from conftest import run_tfllm
from tfllm import runner
from tfllm.backbones import load_bert
from tfllm.configs.job import load_config
from tfllm.data.corpus_readers import read_pairs
from tfllm.data.examples import DataError
from tfllm.evaluation.bertscore import bertscore
from tfllm.evaluation.generation_metrics import generation_scores
from tfllm.models.prompt_format import PromptFormat
from tfllm.text.byte_pair_training import train_byte_pair_vocabulary
from tfllm.text.gpt2_tokenizer import GPT2Tokenizer

WORDS = {"cat": "猫", "dog": "狗", "red": "红", "big": "大", "fish": "鱼", "bird": "鸟"}


def translation_pairs(count, seed):
    """English word sequences and their word-by-word Chinese: a task a tiny model learns in seconds."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        words = [rng.choice(sorted(WORDS)) for _ in range(rng.randint(2, 5))]
        pairs.append((" ".join(words), "".join(WORDS[word] for word in words)))
    return pairs


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pairs_bpe")
    corpus = directory / "corpus.txt"
    corpus.write_text("\n".join(f"{s}\n{t}" for s, t in translation_pairs(200, 0)) + "\nTranslate:\nChinese:",
                      encoding="utf-8")
    return GPT2Tokenizer(*train_byte_pair_vocabulary([str(corpus)], str(directory), vocabulary_size=300,
                                                     min_frequency=1))


def test_pair_readers_name_the_bad_record(tmp_path):
    samsum = tmp_path / "samsum.json"
    samsum.write_text(json.dumps([{"dialogue": "A: hi\nB: hello", "summary": "A greets B."},
                                  {"dialogue": "A: bye"}, {"dialogue": "", "summary": "x"}]), encoding="utf-8")
    with pytest.raises(DataError) as error:
        read_pairs(str(samsum), source_column="dialogue", target_column="summary")
    assert f"{samsum}:2: field 'summary': missing" in str(error.value)
    assert f"{samsum}:3: field 'dialogue': empty text" in str(error.value)
    skipped = read_pairs(str(samsum), source_column="dialogue", target_column="summary", on_bad_rows="skip")
    assert skipped.examples == [("A: hi\nB: hello", "A greets B.")] and len(skipped.bad_rows) == 2

    tatoeba = tmp_path / "cmn.txt"  # no header row: the columns are named in the config
    tatoeba.write_text("Hi.\t嗨。\tCC-BY 2.0\nRun.\t跑。\nWait!\t等等！\tCC-BY 2.0\n", encoding="utf-8")
    names = ["english", "chinese", "attribution"]
    with pytest.raises(DataError, match=r"cmn.txt:2: field '<row>': has 2 fields, expected 3"):
        read_pairs(str(tatoeba), "tsv", "english", "chinese", names)
    result = read_pairs(str(tatoeba), "tsv", "english", "chinese", names, on_bad_rows="skip")
    assert result.examples == [("Hi.", "嗨。"), ("Wait!", "等等！")]
    with pytest.raises(DataError, match="field 'french': no such column; column_names are"):
        read_pairs(str(tatoeba), "tsv", "english", "french", names)


def test_prompt_format_trains_targets_only_and_serves_the_same_prompt(tokenizer):
    prompt_format = PromptFormat("Translate:\n", "\nChinese:")
    end = tokenizer.end_token_id
    (ids, weights), = prompt_format.training_examples(tokenizer, [("cat dog", "猫狗")], end, window=64)
    prompt = [token for token, weight in zip(ids, weights) if not weight]
    target = [token for token, weight in zip(ids, weights) if weight]
    assert weights == sorted(weights)  # the prompt, then the target: nothing after it is trained
    assert tokenizer.detokenize(tf.constant([prompt[1:]]))[0] == "Translate:\ncat dog\nChinese:"
    assert target[-1] == end and tokenizer.detokenize(tf.constant([target[:-1]]))[0] == " 猫狗"
    served = tf.function(prompt_format.prompt_ids)(tokenizer, tf.constant(["cat dog"]), 1000)
    assert [end] + served[0].numpy().tolist() == prompt  # the serving graph builds the training prompt

    long_source = " ".join(["fish"] * 80)
    (ids, weights), = prompt_format.training_examples(tokenizer, [(long_source, "鱼" * 80)], end, window=40)
    room = 40 - 1 - sum(len(ids) for ids in tokenizer(["Translate:\n", "\nChinese:"]))
    assert len(ids) == 40 and sum(weights) == room // 2  # both cut to fit: the target keeps half the room
    assert "\nChinese: 鱼" in tokenizer.detokenize(tf.constant([ids]))[0]
    short = tf.function(prompt_format.prompt_ids)(tokenizer, tf.constant([long_source]), 24)
    text = tokenizer.detokenize(short)[0]
    assert len(short[0]) == 24 and text.startswith("Translate:\nfish") and text.endswith("\nChinese:")
    with pytest.raises(ValueError, match="raise sequence_length"):
        prompt_format.training_examples(tokenizer, [("cat", "猫")], end, window=5)


def test_rouge_and_bleu_score_english_and_chinese():
    perfect = generation_scores(["the cat sat", "我爱你。"], ["the cat sat", "我爱你。"])
    assert all(value == pytest.approx(1.0) for value in perfect.values())
    half = generation_scores(["我爱猫"], ["我爱狗"])  # Chinese is scored by characters
    assert half["rouge1"] == pytest.approx(2 / 3) and half["rouge2"] == pytest.approx(1 / 2)
    assert generation_scores(["a dog ran"], ["the cat sat"])["bleu"] == 0.0


def test_bertscore_matches_tokens_by_their_contextual_vectors(keras_hub_preset_dir):
    bert = load_bert(keras_hub_preset_dir, sequence_length=16)
    same = generation_scores(["the movie was good"], ["the movie was good"], bert)
    assert same["bertscore_precision"] == pytest.approx(1.0, abs=1e-5) and same["bertscore_f1"] == pytest.approx(1.0, abs=1e-5)
    scores = bertscore(["the movie was good", "awful"], ["the movie was good really", "the plot was fine"], bert)
    # The prediction's tokens all have near copies in the longer reference; not the other way round.
    assert scores["bertscore_precision"] > scores["bertscore_recall"]
    assert bertscore([""], ["good"], bert)["bertscore_f1"] == 0.0
    with pytest.raises(ValueError, match="as many predictions as references"):
        generation_scores(["x"], [])


def test_translation_job_trains_and_scores_what_it_serves(tmp_path):
    # Wiring, not quality (real translation is for benchmarks): train, then score generated targets.
    (tmp_path / "train.json").write_text(
        json.dumps([{"en": s, "zh": t} for s, t in translation_pairs(120, 1)], ensure_ascii=False), encoding="utf-8")
    (tmp_path / "test.tsv").write_text("".join(f"{s}\t{t}\n" for s, t in translation_pairs(8, 2)), encoding="utf-8")
    config = tmp_path / "translate.yaml"
    config.write_text(f"""
name: tinytranslate
task: conditional_generation
run_dir: {tmp_path / 'run'}
backbone: {{source: scratch, size: tiny, vocabulary_size: 300, context_length: 64, sequence_length: 32}}
data:
  train: train.json
  test: test.tsv
  column_names: [en, zh]
  source_column: en
  target_column: zh
  validation_split: 0.1
model:
  source_prefix: "Translate:\\n"
  target_prefix: "\\nChinese:"
training: {{epochs: 3, batch_size: 8, learning_rate: 3.0e-3, dropout: 0.0, early_stopping_patience: null}}
generation: {{max_new_tokens: 8, temperature: 0.0}}
export: {{root: {tmp_path / 'savedmodels'}}}
""")
    trained = run_tfllm("train", config)
    assert trained.returncode == 0, trained.stderr[-3000:]

    evaluated = run_tfllm("evaluate", config, "--split", "test")
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    # Progress through the loss and the generation (lines into a pipe, not a silent wait or a bar's updates).
    assert re.search(r"^\d+/\d+ - .*loss", evaluated.stdout, re.M) and "8/8 - " in evaluated.stdout
    assert "\r" not in evaluated.stdout
    report = json.load(open(tmp_path / "run" / "evaluation" / "test" / "report.json"))
    assert report["generated"] == 8 and report["decoding"] == "greedy"
    assert all(0.0 <= report[key] <= 1.0 for key in ("bleu", "rouge1", "rouge2", "rougeL"))
    predictions = [json.loads(line) for line in open(tmp_path / "run" / "evaluation" / "test" / "predictions.jsonl")]
    assert len(predictions) == 8 and predictions[0].keys() == {"source", "reference", "prediction"}
    assert [(p["source"], p["reference"]) for p in predictions] == translation_pairs(8, 2)

    # The scored targets are what the served graph answers (GPT-2 exports are checked in test_chat); the
    # export records the prompt format.
    job = load_config(str(config), trained=True)
    task = runner.task_of(job)
    model = task.load(job)
    server = task.server(job, model)
    served = server.answer([p["source"] for p in predictions[:4]])
    assert [row["text"] for row in served] == [p["prediction"] for p in predictions[:4]]
    assert task.metadata(job, model, server)["prompt_format"] == {"source_prefix": "Translate:\n",
                                                                 "target_prefix": "\nChinese:"}
