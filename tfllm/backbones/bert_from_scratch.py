"""Fresh BERTs (backbone and preprocessor), tiny to base, over a WordPiece vocabulary: the start of pretraining from scratch."""

import keras_hub

from tfllm.backbones.sources import Bert
from tfllm.text.bert_preprocessor import BertPreprocessor
from tfllm.text.vocabulary import read_vocabulary
from tfllm.text.wordpiece_tokenizer import WordPieceTokenizer

# Shapes from Turc et al. 2019 ("Well-Read Students Learn Better"), the small BERTs on TF-Hub, and BERT base.
BERT_SIZES = {
    "tiny": dict(num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512),
    "mini": dict(num_layers=4, num_heads=4, hidden_dim=256, intermediate_dim=1024),
    "small": dict(num_layers=4, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "medium": dict(num_layers=8, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "base": dict(num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),
}


def bert_from_scratch(size, vocabulary_file, lowercase=True, sequence_length=128, max_sequence_length=512,
                      dropout=0.1):
    """A randomly initialised BERT of one of `BERT_SIZES` and its preprocessor, as `load_bert` returns.

    Args:
        size: "tiny", "mini", "small", "medium" or "base".
        vocabulary_file: a WordPiece vocabulary (see `train_wordpiece_vocabulary`).
        lowercase: whether the vocabulary is uncased.
        sequence_length: the most tokens per training example.
        max_sequence_length: position embeddings: the longest input any later task may use.

    Example (not run by the test command: it needs a vocabulary file and builds a model):
    >>> bert = bert_from_scratch("mini", "wordpiece/vocab.txt")  # doctest: +SKIP
    """
    if size not in BERT_SIZES:
        raise ValueError(f"BERT size must be one of {sorted(BERT_SIZES)}, not {size!r}")
    layer = keras_hub.models.BertBackbone(vocabulary_size=len(read_vocabulary(vocabulary_file)),
                                          max_sequence_length=max(max_sequence_length, sequence_length),
                                          dropout=dropout, **BERT_SIZES[size])
    preprocessor = BertPreprocessor(WordPieceTokenizer(vocabulary_file, lowercase=lowercase), sequence_length)
    return Bert(layer, preprocessor)
