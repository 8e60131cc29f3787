"""Trains a BERT WordPiece vocabulary (vocab.txt) on text files, English, Chinese or both."""

import os

from tfllm.text.vocabulary import SPECIAL_TOKENS

# BERT's reserved tokens: relation extraction marks entities with [unused0]-[unused3], and a vocabulary
# keeps a few spare for tokens a later task adds.
UNUSED_TOKENS = tuple(f"[unused{i}]" for i in range(10))


def train_wordpiece_vocabulary(files, output_dir, vocabulary_size=8000, lowercase=True, min_frequency=2):
    """Writes `vocab.txt` to `output_dir`, split the way `WordPieceTokenizer` splits; returns its path.

    Text is cut into words as BERT's basic tokenizer cuts it (whitespace, each punctuation mark, and
    each CJK character alone; lower-cased and accents stripped when `lowercase`), then WordPiece merges
    are learned on those words. The file starts with [PAD], [UNK], [CLS], [SEP], [MASK] and
    [unused0]-[unused9], then every character of the corpus, so that no character seen becomes [UNK].

    Args:
        files: text files to learn from (any text: one sentence or document per line is typical).
        output_dir: where to write vocab.txt.
        vocabulary_size: tokens in all, the special ones included.
        lowercase: an uncased vocabulary (pair it with `WordPieceTokenizer(..., lowercase=True)`).
        min_frequency: the fewest occurrences a merged piece needs.

    Example (not run by the test command: it needs a corpus file):
    >>> path = train_wordpiece_vocabulary(["corpus.txt"], "wordpiece", vocabulary_size=8000)  # doctest: +SKIP
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    reserved = len(SPECIAL_TOKENS) + len(UNUSED_TOKENS)
    if vocabulary_size <= reserved:
        raise ValueError(f"vocabulary_size must be more than the {reserved} reserved tokens, not {vocabulary_size}")
    for path in files:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such text file to train a vocabulary on")
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    # The same rules as TF Text's BertTokenizer in WordPieceTokenizer: NFD accent stripping only when
    # lower-casing, control characters dropped, CJK characters split apart.
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                      strip_accents=lowercase, lowercase=lowercase)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=vocabulary_size, min_frequency=min_frequency,
                                        special_tokens=list(SPECIAL_TOKENS + UNUSED_TOKENS),
                                        continuing_subword_prefix="##", show_progress=False)
    tokenizer.train([str(path) for path in files], trainer)
    vocabulary = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, "vocab.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(token + "\n" for token, _ in vocabulary)
    return path
