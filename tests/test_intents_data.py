"""The main job's data: the committed files are what make_dataset.py writes, and dev stays unseen."""

import csv
import importlib.util
import os
import random

import pytest

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "intents")


@pytest.fixture()
def make_dataset():
    spec = importlib.util.spec_from_file_location("make_dataset", os.path.join(EXAMPLE, "make_dataset.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rows(name):
    with open(os.path.join(EXAMPLE, name), newline="", encoding="utf-8") as f:
        return [tuple(row) for row in csv.reader(f)][1:]


def test_the_committed_files_are_what_the_script_writes(make_dataset):
    make_dataset.unseen_by_dev()
    train, dev = make_dataset.build(*(random.Random(seed) for seed in make_dataset.SEEDS))
    assert rows("train.csv") == train and rows("dev.csv") == dev
    assert not {text for text, _, _ in dev} & {text for text, _, _ in train}
    assert {language for _, _, language in dev} == {"en", "zh"}


def test_a_training_phrasing_close_to_a_dev_one_is_refused(make_dataset):
    dev_phrasing = make_dataset.PHRASINGS["refund_request"]["en"][-1]  # the last phrasings go to dev
    make_dataset.MORE_TRAIN["refund_request"]["en"].append(dev_phrasing.replace("request", "requesting"))
    with pytest.raises(ValueError, match="too close to dev's"):
        make_dataset.unseen_by_dev()
