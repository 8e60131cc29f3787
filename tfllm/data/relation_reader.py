"""A reader for relation classification: JSON lines with a text, a head span, a tail span and a relation.

One object per line (character offsets, end exclusive; "relation" may be left out of unlabeled data):

    {"text": "Steve Jobs founded Apple in 1976.", "head": [0, 10], "tail": [19, 24], "relation": "founded"}

Each record becomes a `RelationExample`. A span outside the text, an empty span, head and tail
overlapping, or a missing relation is a bad row naming file, line and field.
"""

import dataclasses
from typing import Optional, Tuple

import tensorflow as tf

from tfllm.data.examples import BadRow, TextExample
from tfllm.data.readers import ReadResult, _jsonl_records, apply_bad_row_policy
from tfllm.text.entity_markers import mark_entities


@dataclasses.dataclass(frozen=True)
class RelationExample:
    """A text, its head and tail entity spans (characters, end exclusive) and the relation between them."""

    text: str
    head: Tuple[int, int]
    tail: Tuple[int, int]
    label: Optional[str] = None
    source: str = ""


def _span(record, field, text, path, line, bad_rows):
    span = record.get(field)
    if not (isinstance(span, list) and len(span) == 2 and all(isinstance(i, int) for i in span)):
        bad_rows.append(BadRow(path, line, field, f"expected [start, end] character offsets, got {span!r}"))
        return None
    if not 0 <= span[0] < span[1] <= len(text):
        bad_rows.append(BadRow(path, line, field, f"span {span} is empty or outside the text ({len(text)} characters)"))
        return None
    return tuple(span)


def read_relation_examples(path, on_bad_rows="error", labeled=True, label_field="relation"):
    """Reads relation JSON lines (see the module docstring) into `RelationExample`s.

    Example (not run by the test command: it needs a relation JSONL file):
    >>> read_relation_examples("relations.jsonl").examples[0]  # doctest: +SKIP
    RelationExample(text='Steve Jobs founded Apple in 1976.', head=(0, 10), tail=(19, 24), label='founded', ...)
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    examples, bad_rows = [], []
    for line, record in _jsonl_records(path, bad_rows):
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str) or not text.strip():
            bad_rows.append(BadRow(path, line, "text", "missing or empty text"))
            continue
        head, tail = _span(record, "head", text, path, line, bad_rows), _span(record, "tail", text, path, line, bad_rows)
        if head is None or tail is None:
            continue
        if head[0] < tail[1] and tail[0] < head[1]:
            bad_rows.append(BadRow(path, line, "tail", f"tail {list(tail)} overlaps head {list(head)}"))
            continue
        label = record.get(label_field)
        if labeled and (not isinstance(label, (str, int)) or isinstance(label, bool) or not str(label).strip()):
            bad_rows.append(BadRow(path, line, label_field, f"missing or invalid relation {label!r}"))
            continue
        examples.append(RelationExample(text, head, tail, str(label) if labeled else None, f"{path}:{line}"))
    return apply_bad_row_policy(ReadResult(examples, sorted(bad_rows, key=lambda r: r.line)), on_bad_rows, path)


def marked_text_examples(examples):
    """`TextExample`s whose texts carry the entity markers, inserted by the op the serving graph uses."""
    if not examples:
        return []
    spans = tf.constant([[*e.head, *e.tail] for e in examples], tf.int32)
    texts = mark_entities(tf.constant([e.text for e in examples]), *tf.unstack(spans, axis=1)).numpy()
    return [TextExample(text.decode("utf-8"), None, e.label, e.source) for text, e in zip(texts, examples)]
