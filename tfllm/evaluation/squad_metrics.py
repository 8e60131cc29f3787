"""Exact match and token F1 of extractive answers, with the official SQuAD v1.1 answer normalization."""

import collections
import re
import string

_CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef])")


def normalize_answer(text):
    """Lower-cases and removes punctuation, the articles a/an/the and extra whitespace (SQuAD's evaluate-v1.1.py)."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def _tokens(text):
    # Chinese has no spaces: each CJK character counts as a token, as CMRC's and XQuAD's Chinese scoring does.
    return _CJK.sub(r" \1 ", normalize_answer(text)).split()


def exact_match(prediction, answers):
    """1.0 if the normalized prediction equals any normalized gold answer."""
    return float(any(normalize_answer(prediction) == normalize_answer(answer) for answer in answers))


def token_f1(prediction, answers):
    """The best token-overlap F1 of the prediction against the gold answers."""
    best = 0.0
    predicted = _tokens(prediction)
    for answer in answers:
        gold = _tokens(answer)
        common = sum((collections.Counter(predicted) & collections.Counter(gold)).values())
        if common:
            precision, recall = common / len(predicted), common / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def squad_scores(predictions, answers):
    """Mean exact match and F1 (in %, as SQuAD reports them) of predictions against lists of gold answers.

    Example:
    >>> squad_scores(["the Denver Broncos", "Carolina"], [["Denver Broncos"], ["Carolina Panthers"]])
    {'exact_match': 50.0, 'f1': 83.33333333333333, 'examples': 2}
    """
    count = len(predictions)
    return {"exact_match": 100.0 * sum(map(exact_match, predictions, answers)) / max(count, 1),
            "f1": 100.0 * sum(map(token_f1, predictions, answers)) / max(count, 1), "examples": count}
