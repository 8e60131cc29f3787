import re

import tensorflow as tf

from conftest import shared_data
from tfllm.text.bert_preprocessor import BertPreprocessor
from tfllm.text.vocabulary import read_vocabulary


def reference_wordpiece(text, vocabulary):
    """BERT's reference algorithm in plain Python: lower-case, split off punctuation, greedy longest match."""
    ids = {token: i for i, token in enumerate(vocabulary)}
    words = re.findall(r"\w+|[^\w\s]", text.lower())
    pieces = []
    for word in words:
        start, word_pieces = 0, []
        while start < len(word):
            end = len(word)
            while end > start and (("##" if start else "") + word[start:end]) not in ids:
                end -= 1
            if end == start:
                word_pieces = ["[UNK]"]
                break
            word_pieces.append(("##" if start else "") + word[start:end])
            start = end
        pieces.extend(word_pieces)
    return [ids["[CLS]"]] + [ids[p] for p in pieces] + [ids["[SEP]"]]


def test_matches_reference_bert_wordpieces():
    path = shared_data("vocab", "bert-base-uncased", "vocab.txt")
    vocabulary = read_vocabulary(path)
    preprocessor = BertPreprocessor.from_vocabulary(path)
    for text in ["Hello, World! Unaffable", "The quick brown fox's jump-rope (2024)", "tokenization isn't trivial"]:
        ids = preprocessor(tf.constant([text]))["token_ids"].numpy()[0].tolist()
        assert ids == reference_wordpiece(text, vocabulary), text
    assert len(reference_wordpiece("Unaffable", vocabulary)) > 3  # really split into word pieces


def test_chinese_is_split_per_character():
    vocabulary = shared_data("vocab", "bert-base-chinese", "vocab.txt")
    preprocessor = BertPreprocessor.from_vocabulary(vocabulary)
    ids = preprocessor(tf.constant(["我要退款"]))["token_ids"].numpy()[0]
    assert len(ids) == 6 and 100 not in ids  # [CLS] 4 characters [SEP], none unknown


def test_truncation_padding_and_odd_input(vocabulary_file):
    preprocessor = BertPreprocessor.from_vocabulary(vocabulary_file, sequence_length=8)
    texts = tf.constant(["good " * 50, "", b"\xff\xfe bad".decode("latin-1").encode("latin-1"), "好电影"])
    features = preprocessor(texts)
    assert features["token_ids"].shape == (4, 8)
    mask = features["padding_mask"].numpy()
    assert mask.sum(1).tolist() == [8, 2, 4, 5]  # truncated; empty is [CLS][SEP]; bad bytes become one [UNK] word
    assert features["token_ids"].numpy()[1, 2:].tolist() == [0] * 6


def test_pairs_are_trimmed_round_robin(vocabulary_file):
    preprocessor = BertPreprocessor.from_vocabulary(vocabulary_file, sequence_length=9)
    features = preprocessor(tf.constant(["good " * 10]), tf.constant(["bad bad"]))
    assert features["segment_ids"].numpy()[0].tolist() == [0, 0, 0, 0, 0, 0, 1, 1, 1]  # [CLS] 4 of a [SEP] | b b [SEP]
    assert features["token_ids"].shape == (1, 9)


def test_uncut_lengths_are_what_packing_cuts_to_sequence_length(vocabulary_file):
    texts, pairs = ["good " * 50, "", "好电影", "the movie was good"], ["bad", "bad bad", "", "film"]
    for text_pairs in (None, pairs):
        uncut = BertPreprocessor.from_vocabulary(vocabulary_file, sequence_length=512).uncut_lengths(texts, text_pairs)
        cut = BertPreprocessor.from_vocabulary(vocabulary_file, sequence_length=8).pack(
            tf.constant(texts), None if text_pairs is None else tf.constant(text_pairs))[0].row_lengths().numpy()
        assert (cut == [min(length, 8) for length in uncut]).all() and uncut[0] > 50
