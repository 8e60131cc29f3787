"""Sentence embeddings: the task harness, parity with KerasHub's BertTextEmbedder, the in-batch loss over
replicas, pair readers, retrieval metrics, and the job from the CLI (train, evaluate, export with search, embed)."""

import json
import os
import random
import subprocess
import sys
import textwrap

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from conftest import FILLER, NEGATIVE, POSITIVE, run_tfllm, shared_data
from task_harness import run_task_test
from tfllm.backbones import DEFAULT_BACKBONE, embedded_default_path, load_bert
from tfllm.configs.job import load_config
from tfllm.data.examples import DataError, TextExample
from tfllm.data.pair_readers import TextPair, pairs_from_dialogues, pairs_from_squad, read_corpus, read_text_pairs
from tfllm.evaluation.retrieval_metrics import bm25_ranking, correlation_scores, rank_corpus, ranking_scores
from tfllm.models.contrastive_loss import in_batch_negatives_loss
from tfllm.models.text_embedder import TextEmbedder

TEXTS = ["the movie was good", "awful plot , really", "好 电 影", ""]


def word_pairs(count, seed=0):
    """(query, positive) pairs whose shared sentiment word is what matches them, amid filler."""
    rng = random.Random(seed)
    words = POSITIVE + NEGATIVE
    pairs = []
    for i in range(count):
        word = words[i % len(words)]
        pairs.append(TextPair(" ".join(rng.sample(FILLER, 2) + [word]), " ".join([word] + rng.sample(FILLER, 3)),
                              source=f"synthetic:{i + 1}"))
    return pairs


def tiny_embedder(preset_dir, **kwargs):
    keras.utils.set_random_seed(0)
    return TextEmbedder(load_bert(preset_dir, sequence_length=16), **kwargs)


@pytest.mark.parametrize("kind", ["in_batch", "cosine_projected"])
def test_embedder_passes_the_task_harness(keras_hub_preset_dir, tmp_path, kind):
    if kind == "in_batch":
        build = lambda: tiny_embedder(keras_hub_preset_dir, learn_temperature=True, symmetric=True)  # noqa: E731
        pairs = word_pairs(48)
    else:
        build = lambda: tiny_embedder(keras_hub_preset_dir, loss="cosine", projection=8)  # noqa: E731
        pairs = [dataclass_replace(pair, score=float(i % 2)) for i, pair in enumerate(word_pairs(48))]
    model, rows = run_task_test(build, lambda m: m.make_dataset(pairs, batch_size=8, training=True, seed=0),
                                lambda m: [TextExample(text) for text in TEXTS], tmp_path)
    vectors = np.array([row["embedding"] for row in rows])
    assert vectors.shape == (len(TEXTS), 8 if kind != "in_batch" else 16)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert model.predict(TEXTS) == rows  # raw strings in, the served rows out


def dataclass_replace(pair, **changes):
    import dataclasses

    return dataclasses.replace(pair, **changes)


def test_fit_on_raw_pairs_brings_matching_texts_together(keras_hub_preset_dir):
    model = tiny_embedder(keras_hub_preset_dir)
    pairs = word_pairs(96)
    before = _mean_rank_of_positive(model, pairs)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    model.fit(x=([p.query for p in pairs], [p.positive for p in pairs]), epochs=8, batch_size=16, verbose=0)
    assert _mean_rank_of_positive(model, pairs) < before / 2


def test_search_texts_answers_in_python_what_the_search_signature_ranks(keras_hub_preset_dir):
    model = tiny_embedder(keras_hub_preset_dir)
    corpus = ["good film", "awful movie", "plot twist", "a dull one"]
    index = model.server(corpus=corpus, corpus_ids=["g", "a", "p", "d"])
    queries = ["good movie!", "so awful"]
    hits = index.search_texts(queries, k=3)
    scores = model.embed(queries) @ model.embed(corpus).T
    for query_hits, query_scores in zip(hits, scores):
        best = np.argsort(-query_scores)[:3]
        assert [hit["text"] for hit in query_hits] == [corpus[i] for i in best]
        assert [hit["id"] for hit in query_hits] == [["g", "a", "p", "d"][i] for i in best]
        np.testing.assert_allclose([hit["score"] for hit in query_hits], query_scores[best], atol=1e-5)
    alone = index.search_texts("good movie!", k=3)  # one string, one list of hits
    assert [hit["id"] for hit in alone] == [hit["id"] for hit in hits[0]]
    assert len(index.search_texts(queries, k=10)[0]) == len(corpus)  # k past the corpus: all of it
    assert index.search_texts([], k=3) == []
    with pytest.raises(ValueError, match="no corpus"):
        model.server().search_texts("good movie!")
    # Pairs are for fit (predict gave an AttributeError), a nested list no text (a binding TypeError).
    with pytest.raises(ValueError, match=r"the embedder embeds texts: predict\(texts\); \(queries, positives\) pairs"):
        model.predict((["good movie!"], ["good film"]))
    with pytest.raises(ValueError, match=r"x\[0\]: expected a string, got list"):
        model.predict([["good movie!"]])


def _mean_rank_of_positive(model, pairs):
    queries, positives = model.embed([p.query for p in pairs]), model.embed([p.positive for p in pairs])
    scores = queries @ positives.T
    return float(np.mean([(scores[i] > scores[i, i]).sum() for i in range(len(pairs))]))


def test_vectors_equal_keras_hubs_bert_text_embedder_on_the_same_backbone(keras_hub_preset_dir):
    bert = load_bert(keras_hub_preset_dir, sequence_length=16)
    for pooling in ("mean", "cls"):
        ours = TextEmbedder(bert, pooling=pooling)
        theirs = keras_hub.models.BertTextEmbedder(bert.backbone, pooling_mode=pooling)
        features = bert.preprocessor(tf.constant(TEXTS))
        np.testing.assert_allclose(ours.embed(TEXTS), theirs.predict(features, verbose=0), atol=1e-5)


def test_embedded_default_gives_keras_hubs_bert_text_embedder_vectors():
    """all-MiniLM-L6-v2 end to end from raw strings: ours against KerasHub 0.32's `encode_text`."""
    if not hasattr(keras_hub.models, "BertTextEmbedder"):
        pytest.skip(f"keras-hub {keras_hub.__version__} has no BertTextEmbedder (0.32 has)")
    directory = embedded_default_path()
    theirs = keras_hub.models.BertTextEmbedder(
        keras_hub.models.BertBackbone.from_preset(directory),
        keras_hub.models.BertTextEmbedderPreprocessor(keras_hub.models.BertTokenizer.from_preset(directory),
                                                      sequence_length=128))
    ours = TextEmbedder(load_bert(DEFAULT_BACKBONE, sequence_length=128))
    texts = ["A man is playing a guitar.", "Stocks fell sharply on Monday after the report.", "我喜欢这部电影。"]
    np.testing.assert_allclose(ours.embed(texts), np.asarray(theirs.encode_text(texts)), atol=1e-4)
    # Accented text: the model's own (Hugging Face) tokenizer strips accents when it lowercases, and so do
    # we; KerasHub's BertTokenizer does not, and reads "où" as [UNK].
    from tokenizers import BertWordPieceTokenizer

    reference = BertWordPieceTokenizer(os.path.join(directory, "vocab.txt"), lowercase=True)
    ids = ours.preprocessor(tf.constant(["Où est la gare ?"]))["token_ids"].numpy()[0].tolist()
    assert ids == reference.encode("Où est la gare ?").ids


def test_in_batch_loss_over_two_replicas_equals_the_loss_of_the_global_batch():
    """Each replica's queries are scored against the positives (and negatives) of every replica."""
    script = textwrap.dedent("""
        import numpy as np, tensorflow as tf
        tf.config.set_logical_device_configuration(tf.config.list_physical_devices("CPU")[0],
                                                   [tf.config.LogicalDeviceConfiguration()] * 2)
        from tfllm.models.contrastive_loss import in_batch_negatives_loss
        rng = np.random.default_rng(0)
        q, p, n = (tf.constant(rng.normal(size=(6, 4)), tf.float32) for _ in range(3))
        ids = tf.constant([0, 1, 2, 0, 4, 5])  # rows 0 and 3 (on two replicas) share a positive
        expected = float(in_batch_negatives_loss(q, p, n, 20.0, symmetric=True, positive_ids=ids))
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        def split(x):
            return strategy.experimental_distribute_values_from_function(lambda c: x[c.replica_id_in_sync_group * 3:
                                                                                   (c.replica_id_in_sync_group + 1) * 3])
        per_replica = strategy.run(lambda a, b, c, i: in_batch_negatives_loss(a, b, c, 20.0, True, positive_ids=i),
                                   args=(split(q), split(p), split(n), split(ids)))
        print(expected, float(strategy.reduce("SUM", per_replica, axis=None)))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    expected, distributed = map(float, result.stdout.split())
    assert distributed == pytest.approx(expected, abs=1e-5)


def test_in_batch_loss_prefers_matching_pairs_and_uses_hard_negatives():
    q = tf.math.l2_normalize(tf.constant(np.random.default_rng(1).normal(size=(4, 8)), tf.float32), -1)
    matched = float(in_batch_negatives_loss(q, q))
    assert matched < float(in_batch_negatives_loss(q, tf.roll(q, 1, axis=0)))
    assert float(in_batch_negatives_loss(q, q, negatives=q)) > matched  # a negative as close as the positive
    # Two queries on one positive text: without ids each is pushed away from the other's (same) positive.
    shared = tf.gather(q, [0, 0, 2, 3])
    assert float(in_batch_negatives_loss(shared, shared, positive_ids=tf.constant([7, 7, 2, 3]))) < \
        float(in_batch_negatives_loss(shared, shared)) - 0.1


def test_pair_readers_name_bad_rows_and_build_pairs_from_squad_and_dialogues(tmp_path):
    path = tmp_path / "triplets.jsonl"
    path.write_text('{"q": "a", "p": "b", "n": "c"}\n{"q": "a", "p": ""}\nnot json\n{"q": "d", "p": "e", "n": "f"}\n')
    with pytest.raises(DataError) as error:
        read_text_pairs(str(path), query_column="q", positive_column="p", negative_column="n")
    assert {str(row) for row in error.value.bad_rows} == {
        f"{path}:2: field 'p': empty text", f"{path}:2: field 'n': missing",
        f"{path}:3: field '<row>': invalid JSON: Expecting value at column 1"}
    result = read_text_pairs(str(path), query_column="q", positive_column="p", negative_column="n",
                             on_bad_rows="skip")
    assert [(p.query, p.negative, p.source) for p in result.examples] == [("a", "c", f"{path}:1"), ("d", "f", f"{path}:4")]

    squad = tmp_path / "squad.json"
    squad.write_text(json.dumps({"data": [{"title": "T", "paragraphs": [
        {"context": "Mars is red.", "qas": [{"id": "1", "question": "Which planet is red?", "answers": []},
                                            {"id": "2", "question": "What colour is Mars?", "answers": []}]}]}]}))
    pairs = pairs_from_squad(str(squad)).examples
    assert [(p.query, p.positive) for p in pairs] == [("Which planet is red?", "Mars is red."),
                                                     ("What colour is Mars?", "Mars is red.")]
    assert read_corpus(str(squad), "squad").examples == [("T/1", "Mars is red.")]

    dialogues = tmp_path / "dialogues.txt"
    dialogues.write_text("Hi. __eou__ Hello! __eou__ How are you? __eou__\n")
    pairs = pairs_from_dialogues(str(dialogues), "dailydialog", context_turns=2).examples
    assert [(p.query, p.positive) for p in pairs] == [("Hi.", "Hello!"), ("Hi.\nHello!", "How are you?")]

    corpus = tmp_path / "corpus.csv"
    corpus.write_text("doc,body\nd1,Mars is red.\nd2,\n")
    result = read_corpus(str(corpus), text_column="body", id_column="doc", on_bad_rows="skip")
    assert result.examples == [("d1", "Mars is red.")] and str(result.bad_rows[0]).endswith("field 'body': empty text")


def test_retrieval_and_correlation_metrics():
    ranked = np.array([[0, 1, 2], [2, 0, 1], [1, 2, 0]])
    scores = ranking_scores(ranked, [{0}, {0}, {0}])
    assert scores["recall_at_1"] == pytest.approx(1 / 3) and scores["recall_at_5"] == 1.0
    assert scores["mrr_at_10"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert scores["ndcg_at_10"] == pytest.approx((1 + 1 / np.log2(3) + 1 / np.log2(4)) / 3)
    vectors = np.eye(3, dtype=np.float32)
    assert rank_corpus(vectors[[2, 0]], vectors, depth=2)[:, 0].tolist() == [2, 0]
    corpus = ["Mars is the red planet.", "Venus is hot.", "火星是红色的。"]
    assert bm25_ranking(["which planet is red", "红色"], corpus)[:, 0].tolist() == [0, 2]
    correlations = correlation_scores([0.9, 0.2, 0.5, 0.5], [5.0, 1.0, 2.0, 3.0])
    assert correlations["spearman"] == pytest.approx(0.9486833, abs=1e-6)
    assert correlations["pearson"] == pytest.approx(np.corrcoef([0.9, 0.2, 0.5, 0.5], [5.0, 1.0, 2.0, 3.0])[0, 1])


def test_cosine_loss_and_scores_go_together(tmp_path):
    path = tmp_path / "job.yaml"
    path.write_text("name: e\ntask: text_embedding\ndata: {train: t.csv}\nmodel: {loss: cosine}\n")
    with pytest.raises(ValueError, match="model.loss: cosine trains on scored pairs and needs data.score_column"):
        load_config(str(path))
    path.write_text("name: e\ntask: text_embedding\ndata: {train: t.csv, score_column: s}\n")
    with pytest.raises(ValueError, match="data.score_column is for model.loss: cosine"):
        load_config(str(path))
    path.write_text("name: e\ntask: text_embedding\ndata: {train: t.csv, score_column: s}\nmodel: {loss: cosine}\n")
    assert load_config(str(path)).training.monitor == "spearman"


def test_in_batch_negatives_refuse_a_batch_of_one_pair(tmp_path, keras_hub_preset_dir):
    # A batch of one pair ranks its query among one candidate, its own positive: loss 0, nothing learned.
    path = tmp_path / "job.yaml"
    path.write_text("name: e\ntask: text_embedding\ndata: {train: t.csv}\ntraining: {batch_size: 1}\n")
    with pytest.raises(ValueError, match="job.yaml: training.batch_size: in-batch negatives need 2 or more pairs"):
        load_config(str(path))
    path.write_text("name: e\ntask: text_embedding\ndata: {train: t.csv, negative_column: n}\ntraining: {batch_size: 1}\n")
    assert load_config(str(path)).training.batch_size == 1  # a hard negative per pair is something to rank
    model = tiny_embedder(keras_hub_preset_dir)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    pairs = word_pairs(4)
    with pytest.raises(ValueError, match="batch_size 1: in-batch negatives need 2 or more pairs per batch"):
        model.fit(x=([p.query for p in pairs], [p.positive for p in pairs]), batch_size=1, verbose=0)


def test_embedding_job_trains_scores_against_bm25_exports_search_and_embeds(tmp_path, keras_hub_preset_dir):
    def write(name, pairs):
        with open(tmp_path / name, "w") as f:
            f.writelines(json.dumps({"query": p.query, "positive": p.positive}) + "\n" for p in pairs)

    write("train.jsonl", word_pairs(64))
    write("dev.jsonl", word_pairs(24, seed=3))
    (tmp_path / "corpus.txt").write_text("\n".join(["good movie", "awful plot", "the acting was fine", "poor film"]))
    config = tmp_path / "job.yaml"
    config.write_text(json.dumps({
        "name": "words", "task": "text_embedding", "run_dir": str(tmp_path / "run"),
        "backbone": {"source": keras_hub_preset_dir, "sequence_length": 16},
        "data": {"train": "train.jsonl", "validation": "dev.jsonl"},
        "training": {"epochs": 2, "batch_size": 16, "learning_rate": 3.0e-3},
        "export": {"root": str(tmp_path / "savedmodels"), "corpus": "corpus.txt"}}))
    trained = run_tfllm("train", config)
    assert trained.returncode == 0, trained.stderr[-3000:]
    assert "val_mrr_at_10" in trained.stdout  # the kept epoch is chosen by served retrieval

    evaluated = run_tfllm("evaluate", config)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    report = json.load(open(tmp_path / "run" / "evaluation" / "validation" / "report.json"))
    assert report["queries"] == 24 and report["corpus"] == len({p.positive for p in word_pairs(24, seed=3)})
    assert set(report["bm25"]) >= {"mrr_at_10", "recall_at_1"} and "BM25 on the same corpus" in evaluated.stdout
    texts = report["queries"] + report["corpus"]  # what is embedded, shown as progress (a line into a pipe)
    assert f"{texts}/{texts} - " in evaluated.stdout and "\r" not in evaluated.stdout
    assert report["vs_bm25"]["mrr_at_10"] == pytest.approx(report["mrr_at_10"] - report["bm25"]["mrr_at_10"])

    exported = run_tfllm("export", config)
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert "embed, search, serving_default" in exported.stdout  # all checked in a fresh process
    loaded = tf.saved_model.load(str(tmp_path / "savedmodels" / "words" / "1"))
    found = loaded.signatures["search"](query=tf.constant(["good movie!", "so awful"]), k=tf.constant(2))
    model = TextEmbedder.load(str(tmp_path / "run" / "model"))
    corpus = ["good movie", "awful plot", "the acting was fine", "poor film"]
    expected = np.argsort(-(model.embed(["good movie!", "so awful"]) @ model.embed(corpus).T), axis=1)[:, :2]
    np.testing.assert_allclose(model.embed("good movie!"), model.embed(["good movie!"])[0], atol=1e-6)  # [dim]
    assert found["ids"].numpy().astype(str).tolist() == [[str(i + 1) for i in row] for row in expected]
    assert found["texts"].numpy()[0, 0].decode() == corpus[expected[0, 0]]

    embedded = run_tfllm("embed", config, "--input", tmp_path / "corpus.txt", "--output", tmp_path / "vectors",
                         "--shard-size", 3)
    assert embedded.returncode == 0, embedded.stderr[-3000:]
    assert "4/4 - " in embedded.stdout and "\r" not in embedded.stdout  # a log file gets a line, not a bar's updates
    manifest = json.load(open(tmp_path / "vectors" / "manifest.json"))
    assert [shard["count"] for shard in manifest["shards"]] == [3, 1] and manifest["dimension"] == 16
    vectors = np.concatenate([np.load(tmp_path / "vectors" / shard["embeddings"]) for shard in manifest["shards"]])
    np.testing.assert_allclose(vectors, model.embed(corpus), atol=1e-5)
    again = run_tfllm("embed", config, "--input", tmp_path / "corpus.txt", "--output", tmp_path / "vectors")
    assert again.returncode == 2 and not any(name.startswith(".") for name in os.listdir(tmp_path))
    # A mistyped input is named (it was a TensorFlow NotFoundError traceback), a shard size of 0 refused (it
    # was "range() arg 3 must not be zero"; -2 wrote a manifest of 4 vectors in no shard at all).
    missing = run_tfllm("embed", config, "--input", tmp_path / "corpsu.txt", "--output", tmp_path / "v2")
    assert missing.returncode == 2 and f"error: no such file: {tmp_path / 'corpsu.txt'}" in missing.stderr
    for size in ("0", "-2"):
        refused = run_tfllm("embed", config, "--input", tmp_path / "corpus.txt", "--output", tmp_path / "v2",
                            "--shard-size", size)
        assert refused.returncode == 2 and f"--shard-size: expected a whole number, 1 or more, not '{size}'" in refused.stderr
    assert not os.path.exists(tmp_path / "v2")


def test_parallel_sentences_are_pairs_of_two_columns():
    path = shared_data("cmn_eng", "cmn.txt")  # Tatoeba: English, Chinese, attribution; no header row
    result = read_text_pairs(path, "tsv", query_column="english", positive_column="chinese",
                             column_names=["english", "chinese", "attribution"])
    with open(path, encoding="utf-8") as f:
        lines = sum(1 for line in f if line.strip())
    assert len(result.examples) + len(result.bad_rows) == lines and not result.bad_rows
    first = result.examples[0]
    assert (first.query, first.positive, first.source) == ("Hi.", "嗨。", f"{path}:1")
