"""ROUGE and BLEU of generated texts against references, Chinese included.

The scores are KerasHub's metrics: `RougeN`/`RougeL` (Google's rouge-score: mean F1 over examples)
and `Bleu` (corpus BLEU with SacreBLEU's 13a tokenization). rouge-score keeps only [a-z0-9] tokens
and 13a does not split Chinese, so each Han character is first written as its own token, a name made
of its code point, and CJK punctuation is set apart: Chinese is then scored by characters, as
SacreBLEU's "zh" tokenizer and the usual character-level ROUGE of Chinese summarization do.
"""

import re

import keras_hub
import tensorflow as tf

from tfllm.evaluation.bertscore import bertscore

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CJK_PUNCTUATION = re.compile(r"([\u3000-\u303f\uff00-\uffef])")


def scoring_text(text):
    """`text` with each Han character as a token of its own ("h4f60") and CJK punctuation spaced apart."""
    text = _HAN.sub(lambda match: f" h{ord(match.group()):x} ", text)
    return _CJK_PUNCTUATION.sub(r" \1 ", text)


def generation_scores(predictions, references, bert=None):
    """ROUGE-1, ROUGE-2 and ROUGE-L F1 (means over examples) and corpus BLEU, each in 0..1; with a BERT
    `bert` (`tfllm.backbones.load_bert`), also BERTScore-style precision, recall and F1 of its
    token vectors (see `tfllm.evaluation.bertscore`).

    Example:
    >>> scores = generation_scores(["the cat sat on the mat"], ["the cat sat on a mat"])
    >>> round(scores["rouge1"], 3), round(scores["bleu"], 3)
    (0.833, 0.537)
    """
    if len(predictions) != len(references) or not predictions:
        raise ValueError(f"need as many predictions as references, and some: {len(predictions)} vs {len(references)}")
    predicted = tf.constant([scoring_text(text) for text in predictions])
    expected = tf.constant([scoring_text(text) for text in references])
    scores = {}
    for name, metric in (("rouge1", keras_hub.metrics.RougeN(order=1)), ("rouge2", keras_hub.metrics.RougeN(order=2)),
                         ("rougeL", keras_hub.metrics.RougeL())):
        metric.update_state(expected, predicted)
        scores[name] = float(metric.result()["f1_score"])
    bleu = keras_hub.metrics.Bleu()
    bleu.update_state(expected[:, tf.newaxis], predicted)
    scores["bleu"] = float(bleu.result())
    if bert is not None:
        scores.update(bertscore(predictions, references, bert))
    return scores
