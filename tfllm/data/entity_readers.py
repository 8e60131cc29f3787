"""Readers for named-entity data: CoNLL column files and CLUENER-style JSON lines.

Both become `EntityExample`s: the raw text and its entities as character spans, the form the serving
signature answers in, so training, evaluation and serving compare the same things. Bad rows name
file, line and field; with `on_bad_rows="error"` (the default) they stop the read, with "skip" they are
left out, logged and counted, never dropped silently.
"""

import dataclasses
import os
from typing import Tuple

import tensorflow as tf

from tfllm.data.examples import BadRow
from tfllm.data.readers import ReadResult, _decoded_lines, _jsonl_records, apply_bad_row_policy

_TAG_PREFIXES = ("B", "I", "M", "E", "S")  # IOB1, IOB2 (BIO), BIOES and BMES (M- as I-) tags all read


@dataclasses.dataclass(frozen=True)
class Entity:
    """A typed span of a text: `text[start:end]` in characters (end exclusive)."""

    start: int
    end: int
    type: str


@dataclasses.dataclass(frozen=True)
class EntityExample:
    """A text and its entities (sorted, not overlapping); `source` is "file:line"."""

    text: str
    entities: Tuple[Entity, ...] = ()
    source: str = ""


def entities_from_tags(tags):
    """Spans (first word, last word + 1, type) of a tag sequence, read as conlleval reads it.

    An entity starts at B-/S-, or at I-/E- that does not continue an entity of its type (IOB1), and
    ends before a tag that does not continue it, or after E-/S-. M- (BMES, as Chinese corpora write
    the inside of an entity) is read as I-.
    """
    spans, start, kind, previous = [], None, None, "O"
    for index, tag in enumerate(list(tags) + ["O"]):
        prefix, _, tag_type = tag.partition("-")
        prefix = "I" if prefix == "M" else prefix
        continues = (start is not None and prefix in ("I", "E") and tag_type == kind
                     and previous.partition("-")[0] not in ("E", "S"))
        if start is not None and not continues:
            spans.append((start, index, kind))
            start = None
        if prefix != "O" and not continues:
            start, kind = index, tag_type
        previous = tag
    return spans


def _tag_problem(tag):
    prefix, dash, tag_type = tag.partition("-")
    if tag == "O" or (prefix in _TAG_PREFIXES and dash and tag_type):
        return None
    return f"tag {tag!r} is not O or B-/I-/M-/E-/S-<type>"


def read_conll(path, on_bad_rows="error", word_column=0, tag_column=-1):
    """Reads a CoNLL column file: one word per line (`word ... tag`), a blank line between sentences.

    `-DOCSTART-` lines are skipped. A sentence's text is its words joined by single spaces; its
    entities come from the tags by `entities_from_tags`. A line with a missing column or a malformed
    tag makes its sentence a bad row (field "columns" or "tag") at that line.

    Example (not run by the test command: it needs a CoNLL or CLUENER file):
    >>> read_conll("conll2003/train.txt").examples[0]  # doctest: +SKIP
    EntityExample(text='EU rejects German call ...', entities=(Entity(0, 2, 'ORG'), Entity(11, 17, 'MISC'), ...), ...)
    """
    examples, bad_rows = [], []
    words, tags, first_line, problem = [], [], None, None

    def finish():
        if words and problem is None:
            offsets, position = [], 0
            for word in words:
                offsets.append(position)
                position += len(word) + 1
            entities = tuple(Entity(offsets[a], offsets[b - 1] + len(words[b - 1]), kind)
                             for a, b, kind in entities_from_tags(tags))
            examples.append(EntityExample(" ".join(words), entities, f"{path}:{first_line}"))
        elif problem is not None:
            bad_rows.append(problem)

    for line, text in _decoded_lines(path, bad_rows):
        columns = text.split()
        if not columns or columns[0] == "-DOCSTART-":
            finish()
            words, tags, first_line, problem = [], [], None, None
            continue
        first_line = first_line or line
        if len(columns) < 2:
            problem = problem or BadRow(path, line, "columns", f"expected a word and a tag, got {text.strip()!r}")
            continue
        tag_problem = _tag_problem(columns[tag_column])
        if tag_problem:
            problem = problem or BadRow(path, line, "tag", tag_problem)
        words.append(columns[word_column])
        tags.append(columns[tag_column])
    finish()
    return apply_bad_row_policy(ReadResult(examples, sorted(bad_rows, key=lambda r: r.line)), on_bad_rows, path)


def _cluener_entities(record, path, line, bad_rows, text_field, label_field):
    """The entities of one CLUENER record ({type: {mention: [[start, end], ...]}}, end inclusive)."""
    text, labels = record[text_field], record.get(label_field) or {}
    if not isinstance(labels, dict):
        bad_rows.append(BadRow(path, line, label_field, "expected {type: {mention: [[start, end], ...]}}"))
        return None
    entities = []
    for kind, mentions in labels.items():
        if mentions is None:
            continue
        if not isinstance(mentions, dict):
            bad_rows.append(BadRow(path, line, label_field, f"{kind}: expected {{mention: [[start, end], ...]}}, "
                                   f"got {type(mentions).__name__}"))
            return None
        for mention, spans in mentions.items():
            for span in spans if isinstance(spans, list) else [spans]:
                if not (isinstance(span, list) and len(span) == 2 and all(isinstance(i, int) for i in span)):
                    bad_rows.append(BadRow(path, line, label_field, f"{kind}/{mention}: span {span!r} is not [start, end]"))
                    return None
                start, end = span[0], span[1] + 1
                if not 0 <= start < end <= len(text) or text[start:end] != mention:
                    found = text[start:end] if 0 <= start < end <= len(text) else "outside the text"
                    bad_rows.append(BadRow(path, line, label_field,
                                           f"{kind}: span {span} is {found!r}, not the mention {mention!r}"))
                    return None
                entities.append(Entity(start, end, kind))
    entities.sort(key=lambda e: (e.start, e.end))
    for before, after in zip(entities, entities[1:]):
        if after.start < before.end:
            bad_rows.append(BadRow(path, line, label_field, f"entities overlap: {text[before.start:before.end]!r} "
                                   f"({before.type}) and {text[after.start:after.end]!r} ({after.type})"))
            return None
    return tuple(entities)


def read_cluener(path, on_bad_rows="error", text_field="text", label_field="label"):
    """Reads CLUENER2020-style JSON lines: {"text": ..., "label": {type: {mention: [[start, end]]}}}.

    Spans are character offsets with the end inclusive, as CLUENER writes them; each must cover its
    mention. A record without `label_field` has no entities (CLUENER's test file); overlapping
    entities are bad rows, since BIO tags cannot express them.

    Example (not run by the test command: it needs a CoNLL or CLUENER file):
    >>> read_cluener("cluener2020/dev.json").examples[0].entities  # doctest: +SKIP
    (Entity(start=0, end=3, type='organization'), ...)
    """
    examples, bad_rows = [], []
    for line, record in _jsonl_records(path, bad_rows):
        text = record.get(text_field) if isinstance(record, dict) else None
        if not isinstance(text, str) or not text.strip():
            bad_rows.append(BadRow(path, line, text_field, "missing or empty text"))
            continue
        entities = _cluener_entities(record, path, line, bad_rows, text_field, label_field)
        if entities is not None:
            examples.append(EntityExample(text, entities, f"{path}:{line}"))
    return apply_bad_row_policy(ReadResult(examples, sorted(bad_rows, key=lambda r: r.line)), on_bad_rows, path)


def read_entity_examples(path, file_format=None, on_bad_rows="error"):
    """Reads CoNLL (`conll`; default for other extensions) or CLUENER JSON lines (`cluener`; .json/.jsonl).

    Returns a `ReadResult` of `EntityExample`s and bad rows.
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    extension = os.path.splitext(path)[1].lower()
    file_format = file_format or ("cluener" if extension in (".json", ".jsonl") else "conll")
    if file_format == "conll":
        return read_conll(path, on_bad_rows)
    if file_format == "cluener":
        return read_cluener(path, on_bad_rows)
    raise ValueError(f"{path}: unknown entity format {file_format!r}; use conll or cluener")
