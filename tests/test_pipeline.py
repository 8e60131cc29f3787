import random

import numpy as np
import pytest
import tensorflow as tf

from conftest import FILLER
from tfllm.data.pipeline import batch_packed_inputs
from tfllm.text.bert_preprocessor import BertPreprocessor

SEQUENCE_LENGTH = 32


@pytest.fixture()
def texts():
    rng = random.Random(0)  # lengths 1 to 40 words: several buckets, and some texts over the sequence length
    return [" ".join(rng.choices(FILLER, k=rng.randint(1, 40))) for _ in range(203)]


def make_text_dataset(texts, text_pairs, labels, preprocessor, batch_size, **options):
    """Packed texts with their labels, or with their indices when `labels` is None."""
    token_ids, segment_ids = preprocessor.pack(tf.constant(texts), None if text_pairs is None else tf.constant(text_pairs))
    targets = np.arange(len(texts), dtype=np.int64) if labels is None else labels
    return batch_packed_inputs(token_ids, segment_ids, targets, preprocessor, batch_size, **options)


def epoch(dataset):
    return [(features, indices.numpy()) for features, indices in dataset]


@pytest.mark.parametrize("drop_remainder", [False, True])
def test_bucketed_batches_pad_to_their_longest_and_know_their_count(vocabulary_file, texts, drop_remainder):
    preprocessor = BertPreprocessor.from_vocabulary(vocabulary_file, sequence_length=SEQUENCE_LENGTH)
    dataset = make_text_dataset(texts, None, None, preprocessor, batch_size=8, shuffle=True, seed=1,
                                drop_remainder=drop_remainder)
    batches = epoch(dataset)
    assert len(dataset) == len(batches)
    seen = np.concatenate([indices for _, indices in batches])
    if drop_remainder:
        assert all(len(indices) == 8 for _, indices in batches) and len(set(seen)) == len(seen)
    else:
        assert sorted(seen) == list(range(len(texts)))  # every example exactly once
    widths = set()
    for features, indices in batches:
        mask = features["padding_mask"].numpy()
        assert mask[:, -1].any()  # padded only to the batch's longest example
        np.testing.assert_array_equal(mask, features["token_ids"].numpy() != preprocessor.pad_id)
        expected = preprocessor([texts[i] for i in indices])["token_ids"].numpy()
        np.testing.assert_array_equal(features["token_ids"].numpy(), expected)
        widths.add(mask.shape[1])
    assert max(widths) == SEQUENCE_LENGTH and len(widths) > 3


def test_shuffling_changes_order_per_epoch_and_follows_the_seed(vocabulary_file, texts):
    preprocessor = BertPreprocessor.from_vocabulary(vocabulary_file, sequence_length=SEQUENCE_LENGTH)
    make = lambda: make_text_dataset(texts, None, None, preprocessor, 8, shuffle=True, seed=3)  # noqa: E731
    dataset = make()
    first, second = [np.concatenate([i for _, i in epoch(dataset)]) for _ in range(2)]
    assert not np.array_equal(first, second) and sorted(first) == sorted(second)
    np.testing.assert_array_equal(np.concatenate([i for _, i in epoch(make())]), first)


def test_fixed_length_batches_for_tpu(vocabulary_file, texts):
    preprocessor = BertPreprocessor.from_vocabulary(vocabulary_file, sequence_length=SEQUENCE_LENGTH)
    labels = np.arange(len(texts)) % 2
    dataset = make_text_dataset(texts, texts, labels, preprocessor, 16, shuffle=True, fixed_length=True,
                                drop_remainder=True, seed=0)
    batches = list(dataset)
    assert len(dataset) == len(batches) == len(texts) // 16
    for features, batch_labels in batches:
        assert features["token_ids"].shape == features["segment_ids"].shape == (16, SEQUENCE_LENGTH)
        assert batch_labels.shape == (16,)
        assert set(np.unique(features["segment_ids"].numpy())) == {0, 1}
