"""Text pairs for sentence embeddings: (query, positive) pairs, triplets with a hard negative, scored pairs,
read from CSV/TSV/JSON(L) columns or built from data tfllm already reads (SQuAD, dialogues)."""

import dataclasses
import math
from typing import Optional

from tfllm.data.corpus_readers import read_dialogues
from tfllm.data.examples import BadRow
from tfllm.data.readers import ReadResult, _decoded_lines, apply_bad_row_policy, read_rows, text_field
from tfllm.data.squad_reader import read_squad, squad_paragraphs


@dataclasses.dataclass(frozen=True)
class TextPair:
    """A query and the text that matches it (a passage, a reply, a translation, a paraphrase).

    `negative` is a text that does not match (a hard negative), `score` a graded similarity (STS data),
    and `source` is "file:line". Queries that share a positive (the questions of a SQuAD paragraph)
    share it as one corpus text in retrieval evaluation.
    """

    query: str
    positive: str
    negative: Optional[str] = None
    score: Optional[float] = None
    source: str = ""


def read_text_pairs(path, file_format=None, query_column="query", positive_column="positive", negative_column=None,
                    score_column=None, column_names=None, on_bad_rows="error"):
    """Reads pairs, triplets (with `negative_column`) or scored pairs (with `score_column`) from a CSV,
    TSV, JSONL or JSON file; a bad field is named as `file:line: field 'name': reason`.

    Example:
    >>> import tempfile
    >>> path = tempfile.mktemp(suffix=".tsv")
    >>> _ = open(path, "w").write("s1\\ts2\\tscore\\nA man plays.\\tA man is playing.\\t4.8\\nCats.\\tStocks fell.\\tlow\\n")
    >>> result = read_text_pairs(path, query_column="s1", positive_column="s2", score_column="score", on_bad_rows="skip")
    >>> result.examples[0].score, str(result.bad_rows[0]).split(": ", 1)[1]
    (4.8, "field 'score': expected a number, got 'low'")
    """
    fields = [c for c in (query_column, positive_column, negative_column, score_column) if c]

    def build(record, path, line, bad_rows):
        before = len(bad_rows)
        texts = [text_field(record, column, path, line, bad_rows) if column else None
                 for column in (query_column, positive_column, negative_column)]
        score = _score(record, score_column, path, line, bad_rows) if score_column else None
        if len(bad_rows) > before:
            return None
        return TextPair(*texts, score=score, source=f"{path}:{line}")

    return read_rows(path, fields, build, file_format, on_bad_rows, column_names)


def _score(record, column, path, line, bad_rows):
    value = record.get(column)
    try:
        score = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        score = math.nan
    if not math.isfinite(score):
        bad_rows.append(BadRow(path, line, column, "missing" if value is None else f"expected a number, got {value!r}"))
        return None
    return score


def pairs_from_squad(path, on_bad_rows="error"):
    """(question, its paragraph) pairs of a SQuAD-format file: retrieval evaluation looks each question
    up among all the file's paragraphs."""
    result = read_squad(path, on_bad_rows, labeled=False)
    pairs = [TextPair(example.question, example.context, source=example.source) for example in result.examples]
    return ReadResult(pairs, result.bad_rows)


def pairs_from_dialogues(path, file_format=None, context_turns=1, on_bad_rows="error"):
    """(the last `context_turns` turns, the reply) pairs of every reply in a dialogue file (any format
    `read_dialogues` reads), turns joined by newlines."""
    result = read_dialogues(path, file_format, on_bad_rows=on_bad_rows)
    pairs = [TextPair("\n".join(dialogue.turns[max(0, i - context_turns):i]), dialogue.turns[i],
                      source=f"{dialogue.source} turn {i + 1}")
             for dialogue in result.examples for i in range(1, len(dialogue.turns))]
    return apply_bad_row_policy(ReadResult(pairs, result.bad_rows), on_bad_rows, path)


def read_corpus(path, file_format=None, text_column="text", id_column=None, on_bad_rows="error"):
    """The (id, text) passages of a corpus to search or embed: a text file of one passage per line (ids:
    line numbers), CSV/TSV/JSON(L) rows (ids: `id_column`'s values, or line numbers), or the paragraphs
    of a SQuAD-format file (`file_format="squad"`; ids: "title/paragraph", 1-based).

    Example:
    >>> import tempfile
    >>> path = tempfile.mktemp(suffix=".txt")
    >>> _ = open(path, "w").write("Mars is red.\\n\\nVenus is hot.\\n")
    >>> read_corpus(path).examples
    [('1', 'Mars is red.'), ('3', 'Venus is hot.')]
    """
    if file_format == "squad":
        return apply_bad_row_policy(_squad_paragraphs(path), on_bad_rows, path)
    if file_format == "text" or (file_format is None and path.lower().endswith(".txt")):
        bad_rows = []
        passages = [(str(line), text.strip()) for line, text in _decoded_lines(path, bad_rows) if text.strip()]
        return apply_bad_row_policy(ReadResult(passages, bad_rows), on_bad_rows, path)

    def build(record, path, line, bad_rows):
        text = text_field(record, text_column, path, line, bad_rows)
        if id_column and not isinstance(record.get(id_column), (str, int)):
            bad_rows.append(BadRow(path, line, id_column, f"expected an id, got {record.get(id_column)!r}"))
            return None
        return None if text is None else (str(record[id_column]) if id_column else str(line), text)

    return read_rows(path, [c for c in (text_column, id_column) if c], build, file_format, on_bad_rows)


def _squad_paragraphs(path):
    passages, bad_rows = [], []
    for a, p, title, paragraph in squad_paragraphs(path, bad_rows):
        context = paragraph.get("context")
        if isinstance(context, str) and context.strip():
            passages.append((f"{title or a}/{p}", context))
        else:
            bad_rows.append(BadRow(path, f"{a}/{p}", "context", "missing or empty"))
    return ReadResult(passages, bad_rows)
