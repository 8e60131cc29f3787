"""The config of `task: text_embedding`: sentence embeddings trained contrastively, scored by retrieval
or similarity, served as `embed` and `search` signatures."""

import dataclasses
import typing

from tfllm.configs.sections import TABLE_FORMATS, DataConfig, QuantizedExportConfig, key
from tfllm.configs.task_spec import TaskSpec
from tfllm.configs.text_classification import DEFAULT_BERT

RETRIEVAL_MONITORS = ("mrr_at_10", "recall_at_1", "recall_at_10", "ndcg_at_10", "loss")
SIMILARITY_MONITORS = ("spearman", "pearson", "loss")


@dataclasses.dataclass
class TextEmbeddingData(DataConfig):
    """Pairs, triplets or scored pairs in columns, or pairs built from SQuAD files or dialogues."""

    format: typing.Optional[str] = key(
        None, "csv | tsv | jsonl | json: pairs in columns; squad: (question, its paragraph); dailydialog: (the turns "
        "before a reply, the reply); default: from the extension", choices=TABLE_FORMATS + ("squad", "dailydialog"))
    query_column: str = key("query", "the first text of a pair: a query, a sentence")
    positive_column: str = key("positive", "the text that matches it: a passage, a reply, a translation")
    negative_column: typing.Optional[str] = key(None, "a text that does not match it (a hard negative), per row")
    score_column: typing.Optional[str] = key(None, "a graded similarity per pair (STS data), for model.loss cosine")
    score_max: float = key(1.0, "the score of a pair of the same meaning (5 for STS-B): scores are divided by it",
                           above=0.0)
    column_names: typing.Optional[typing.List[str]] = key(None, "the columns of a CSV/TSV without a header row")
    context_turns: int = key(1, "dailydialog: the turns before a reply that make its query", minimum=1)


@dataclasses.dataclass
class TextEmbeddingModel:
    """How texts become vectors, and the training loss."""

    pooling: str = key("mean", "mean (sentence-transformers, all-MiniLM-L6-v2) | cls", choices=("mean", "cls"))
    projection: typing.Optional[int] = key(None, "the width of a dense layer after pooling (null: none)", minimum=1)
    normalize: bool = key(True, "L2-normalise the vectors: similarity is their dot product, the cosine")
    loss: str = key("in_batch_negatives", "in_batch_negatives (pairs, triplets: InfoNCE over the global batch) | "
                    "cosine (scored pairs: cosine regression)", choices=("in_batch_negatives", "cosine"))
    temperature: float = key(0.05, "in_batch_negatives: similarities are divided by it", above=0.0, maximum=1.0)
    learn_temperature: bool = key(False, "train the temperature with the model")
    symmetric: bool = key(False, "in_batch_negatives: also rank the queries for each positive")


@dataclasses.dataclass
class TextEmbeddingExport(QuantizedExportConfig):
    """Where `tfllm export` publishes, and the corpus its `search` signature holds."""

    corpus: typing.Optional[str] = key(None, "a file of texts to search: the export gets a search signature with "
                                       "their vectors inside (relative to the config file)")
    corpus_format: typing.Optional[str] = key(None, "text (a passage per line) | csv | tsv | jsonl | json | squad (its "
                                              "paragraphs); default: from the extension",
                                              choices=("text", "squad") + TABLE_FORMATS)
    corpus_text_column: str = key("text", "the corpus's text field")
    corpus_id_column: typing.Optional[str] = key(None, "the corpus's id field (default: line numbers)")


def embedding_monitors(config):
    """Retrieval metrics for pairs, correlations for scored pairs."""
    return SIMILARITY_MONITORS if config.model.loss == "cosine" else RETRIEVAL_MONITORS


def check(config):
    """The keys that must agree: scores and the cosine loss go together; in-batch negatives need a batch."""
    if (config.model.loss == "in_batch_negatives" and config.training.batch_size < 2
            and not config.data.negative_column):
        raise ValueError(f"{config.path}: training.batch_size: in-batch negatives need 2 or more pairs per batch "
                         "(with one, a query's only candidate is its own positive, and nothing is learned); or "
                         "set data.negative_column")
    if (config.model.loss == "cosine") != bool(config.data.score_column):
        raise ValueError(f"{config.path}: model.loss: cosine trains on scored pairs and needs data.score_column"
                         if config.model.loss == "cosine" else
                         f"{config.path}: data.score_column is for model.loss: cosine, not {config.model.loss}")


SPEC = TaskSpec(
    "text_embedding", "sentence embeddings: contrastive training, retrieval and similarity scores, search",
    "tfllm.tasks.text_embedding:TextEmbeddingTask", "bert", TextEmbeddingData, TextEmbeddingModel,
    TextEmbeddingExport, default_source=DEFAULT_BERT, monitors=RETRIEVAL_MONITORS + SIMILARITY_MONITORS[:2],
    monitors_for=embedding_monitors, check=check)
