"""Characters a WordPiece vocabulary lacks, given its reserved `[unusedN]` slots.

An English BERT vocabulary holds few Chinese characters (all-MiniLM-L6-v2's holds 265 of them, and
most of a Chinese text becomes `[UNK]`), but it reserves about a thousand `[unusedN]` tokens. BERT's
tokenizer makes every CJK ideograph and punctuation mark a token of its own, so writing a character
into a free slot is all that the tokenizer needs to give it its own id; its embedding is then learned
in fine-tuning (see `Bert.add_characters`).
"""

import collections
import re
import unicodedata

_RESERVED_SLOTS = 10  # [unused0]-[unused9] stay reserved: relation extraction marks entities with [unused0]-[unused3]
_UNUSED = re.compile(r"^\[unused(\d+)\]$")


def is_isolated_character(character):
    """Whether BERT's tokenizer makes `character` a token of its own: a CJK ideograph (the ranges of BERT's
    `_is_chinese_char`) or a punctuation mark."""
    code = ord(character)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0x20000 <= code <= 0x2A6DF
            or 0x2A700 <= code <= 0x2B81F or 0x2B820 <= code <= 0x2CEAF or 0xF900 <= code <= 0xFAFF
            or 0x2F800 <= code <= 0x2FA1F or unicodedata.category(character).startswith("P"))


def missing_characters(vocabulary, texts):
    """The isolated characters of `texts` that `vocabulary` (a list of tokens) lacks, the most frequent first (ties in code-point order).

    Characters that lower-casing or accent stripping would change are left out: the tokenizer would look
    up another form.

    >>> missing_characters(["[PAD]", "[UNK]", "我", "?"], ["我要退款?", "退款!"])
    ['款', '退', '!', '要']
    """
    known = set(vocabulary)
    counts = collections.Counter(
        character for text in texts for character in text
        if character not in known and is_isolated_character(character)
        and unicodedata.normalize("NFD", character.lower()) == character)
    return [character for character, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def free_slots(vocabulary):
    """The ids of `vocabulary`'s `[unusedN]` tokens that tfllm leaves free (N of 10 and above)."""
    return [index for index, token in enumerate(vocabulary)
            if _UNUSED.match(token) and int(_UNUSED.match(token).group(1)) >= _RESERVED_SLOTS]


def with_characters(vocabulary, characters):
    """(`vocabulary` with `characters` written into its free slots, their ids); as many characters as
    there are free slots, the first ones first.

    >>> with_characters(["[PAD]", "[unused9]", "[unused10]", "[unused11]", "a"], ["退", "款", "要"])
    (['[PAD]', '[unused9]', '退', '款', 'a'], [2, 3])
    """
    ids = free_slots(vocabulary)[:len(characters)]
    tokens = list(vocabulary)
    for index, character in zip(ids, characters):
        tokens[index] = character
    return tokens, ids
