"""Sentence pairs for BERT's next-sentence prediction: half follow each other in a text, half do not."""

import random
import re

# A sentence ends after 。！？!? (also full-width) or after a period followed by a space: "3.14" stays whole.
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|(?<=\.)\s+")


def split_sentences(text):
    """The non-empty sentences of `text`, in order.

    Example:
    >>> split_sentences("It rained. We stayed in! 然后呢？好的。")
    ['It rained.', 'We stayed in!', '然后呢？', '好的。']
    """
    return [sentence.strip() for sentence in _SENTENCE_END.split(text) if sentence.strip()]


def next_sentence_pairs(texts, seed=0):
    """(first, second, is_next) for each pair of neighbouring sentences in `texts`.

    As in BERT, half of the pairs keep the sentence that really follows (is_next 1) and half take a
    sentence of another text instead (0), chosen with `seed`.

    Raises:
        ValueError: if no text has two sentences (one sentence per text cannot teach what follows what).

    Example (not run by the test command: it needs a corpus):
    >>> next_sentence_pairs(["A b. C d. E f.", "G h."], seed=0)  # doctest: +SKIP
    [('A b.', 'C d.', 1), ('C d.', 'G h.', 0)]
    """
    rng = random.Random(seed)
    split = [split_sentences(text) for text in texts]
    others = [(row, sentence) for row, sentences in enumerate(split) for sentence in sentences]
    several_texts = len({row for row, _ in others}) > 1  # else a negative comes from the same text
    pairs = []
    for row, sentences in enumerate(split):
        for first, second in zip(sentences, sentences[1:]):
            if rng.random() < 0.5:
                pairs.append((first, second, 1))
                continue
            other_row, other = rng.choice(others)
            while other_row == row and several_texts:
                other_row, other = rng.choice(others)
            pairs.append((first, other, 0))
    if not pairs:
        raise ValueError("next-sentence prediction needs texts of two sentences or more; these have one each")
    return pairs
