"""Trains a byte-level BPE vocabulary (GPT-2's scheme) on text files, for English, Chinese or both."""

import json
import os

from tfllm.text.gpt2_tokenizer import END_TOKEN


def train_byte_pair_vocabulary(files, output_dir, vocabulary_size=8000, min_frequency=2):
    """Writes `vocab.json` and `merges.txt` in GPT-2's format to `output_dir`; returns their paths.

    Words are split as GPT-2 splits them and every byte has a token, so any text, in any script,
    tokenizes without unknowns. `<|endoftext|>` gets the last id, as in GPT-2 (50256): KerasHub's
    GPT-2 treats id 0 as padding, and an end token at 0 makes `generate` return the bare prompt.

    Args:
        files: text files to learn merges from.
        output_dir: where to write the vocabulary.
        vocabulary_size: tokens in all, the 256 bytes and `<|endoftext|>` included.
        min_frequency: the fewest occurrences a merge needs.

    Example (not run by the test command: it needs a corpus file):
    >>> vocabulary, merges = train_byte_pair_vocabulary(["corpus.txt"], "bpe", 4000)  # doctest: +SKIP
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    if vocabulary_size < 258:
        raise ValueError(f"vocabulary_size must be at least 258 (256 bytes, one merge, {END_TOKEN}), "
                         f"not {vocabulary_size}")
    for path in files:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: no such text file to train a vocabulary on")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocabulary_size - 1, min_frequency=min_frequency,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train([str(path) for path in files], trainer)
    model = json.loads(tokenizer.to_str())["model"]
    vocabulary = dict(sorted(model["vocab"].items(), key=lambda item: item[1]))
    vocabulary[END_TOKEN] = len(vocabulary)
    merges = [merge if isinstance(merge, str) else " ".join(merge) for merge in model["merges"]]
    os.makedirs(output_dir, exist_ok=True)
    vocabulary_path, merges_path = os.path.join(output_dir, "vocab.json"), os.path.join(output_dir, "merges.txt")
    with open(vocabulary_path, "w", encoding="utf-8") as f:
        json.dump(vocabulary, f, ensure_ascii=False)
    with open(merges_path, "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n" + "".join(merge + "\n" for merge in merges))
    return vocabulary_path, merges_path
