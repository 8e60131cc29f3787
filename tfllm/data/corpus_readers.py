"""Readers for language-model data: plain-text documents, source/target pairs and multi-turn dialogues.

The same rules as the classification readers: every bad row is reported as file:line:field, and the
`on_bad_rows` policy either stops the read or skips and lists them.
"""

import dataclasses
import json
import os
import re
from typing import Tuple

import tensorflow as tf

from tfllm.data.examples import BadRow, DataError
from tfllm.data.readers import (ColumnSpec, ReadResult, _decoded_lines, apply_bad_row_policy, read_json_file,
                                 read_text_examples)

_DAILYDIALOG_SEPARATOR = "__eou__"
# DailyDialog is tokenized ("Say , Jim , how about ... ?"): rejoin punctuation as people write it.
_SPACE_BEFORE_PUNCTUATION = re.compile(r" +([,.!?;:%)]|'s\b|n't\b|'m\b|'re\b|'ll\b|'ve\b|'d\b)")


@dataclasses.dataclass(frozen=True)
class Dialogue:
    """Turns of one conversation, oldest first, speakers alternating; `source` is "file:line"."""

    turns: Tuple[str, ...]
    source: str = ""


def read_documents(path, file_format=None, text_column="text", document_separator=None, on_bad_rows="error",
                   column_names=None):
    """Reads plain-text documents for causal-LM training.

    Args:
        path: a .txt file (one document, or several split by `document_separator`), or a CSV, TSV or
            JSONL file with one document per row in `text_column`.
        file_format: "text", "csv", "tsv" or "jsonl"; by default from the extension (.txt: text).
        document_separator: for text files, the string between documents (e.g. "\\n\\n"); None: one document.
        column_names: the columns of a CSV/TSV file without a header row, in order.

    Returns:
        A `ReadResult` whose examples are the document strings.
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    file_format = file_format or ("text" if os.path.splitext(path)[1].lower() in (".txt", "") else None)
    if file_format != "text":
        result = read_text_examples(path, ColumnSpec(text=text_column, label=None), file_format, on_bad_rows,
                                    column_names)
        return ReadResult([example.text for example in result.examples], result.bad_rows)
    bad_rows = []
    text = "".join(line for _, line in _decoded_lines(path, bad_rows))
    documents = text.split(document_separator) if document_separator else [text]
    documents = [document for document in documents if document.strip()]
    return apply_bad_row_policy(ReadResult(documents, bad_rows), on_bad_rows, path)


def read_pairs(path, file_format=None, source_column="source", target_column="target", column_names=None,
               on_bad_rows="error"):
    """Reads (source, target) text pairs for conditional generation (summarization, translation).

    Args:
        path: a CSV, TSV, JSONL or JSON-array file (see `tfllm.data.read_text_examples`).
        column_names: the columns of a CSV/TSV file without a header row, in order.

    Returns:
        A `ReadResult` whose examples are (source, target) tuples.

    Example (not run by the test command: it needs a data file):
    >>> read_pairs("cmn.txt", "tsv", "english", "chinese", ["english", "chinese", "attribution"]).examples[0]  # doctest: +SKIP
    ('Hi.', '嗨。')
    """
    columns = ColumnSpec(text=source_column, text_pair=target_column, label=None)
    result = read_text_examples(path, columns, file_format, on_bad_rows, column_names)
    return ReadResult([(example.text, example.text_pair) for example in result.examples], result.bad_rows)


def _turns_from(value, path, line, field, bad_rows, remove_spaces):
    """Validated turns from a JSON value or a list of strings, or None after recording the bad rows."""
    if not isinstance(value, list) or not value:
        bad_rows.append(BadRow(path, line, field, f"expected a non-empty list of turns, got {value!r:.80}"))
        return None
    turns = []
    for index, turn in enumerate(value):
        if not isinstance(turn, str):
            bad_rows.append(BadRow(path, line, f"{field}[{index}]", f"expected a string, got {type(turn).__name__}"))
            return None
        turn = re.sub(r"\s+", "", turn) if remove_spaces else " ".join(turn.split())
        if not turn:
            bad_rows.append(BadRow(path, line, f"{field}[{index}]", "empty turn"))
            return None
        turns.append(turn)
    if len(turns) < 2:
        bad_rows.append(BadRow(path, line, field, "a dialogue needs at least two turns (a message and a reply)"))
        return None
    return turns


def _dialogue_lines(path, file_format, turns_field, bad_rows):
    """Yields (line, field, raw turns) from line-oriented dialogue files."""
    for line, text in _decoded_lines(path, bad_rows):
        if not text.strip():
            continue
        if file_format == "dailydialog":
            turns = [_SPACE_BEFORE_PUNCTUATION.sub(r"\1", turn.strip()) for turn in text.split(_DAILYDIALOG_SEPARATOR)]
            yield line, "<turns>", turns[:-1] if turns and not turns[-1] else turns
        elif file_format == "tsv":
            yield line, "<turns>", text.rstrip("\r\n").split("\t")
        else:
            try:
                record = json.loads(text)
            except json.JSONDecodeError as error:
                bad_rows.append(BadRow(path, line, "<row>", f"invalid JSON: {error.msg} at column {error.colno}"))
                continue
            if not isinstance(record, dict) or turns_field not in record:
                bad_rows.append(BadRow(path, line, turns_field, "missing"))
                continue
            yield line, turns_field, record[turns_field]


def read_dialogues(path, file_format=None, turns_field="turns", remove_spaces=False, on_bad_rows="error"):
    """Reads multi-turn dialogues.

    Formats (by default from the extension):
        "jsonl": one JSON object per line with a list of turns in `turns_field`.
        "tsv": one dialogue per line, turns separated by tabs (LCCC's post/response pairs).
        "dailydialog": one dialogue per line, turns separated by "__eou__" (DailyDialog's .txt files).
        "json": a file holding one JSON object of splits; `path#split` picks one (LCCC's toy_data.json).

    Args:
        remove_spaces: delete all whitespace inside turns, for character-segmented Chinese (LCCC).

    Example (not run by the test command: it needs a data file):
    >>> read_dialogues("dialogues_train.txt", "dailydialog").examples[0].turns[:2]  # doctest: +SKIP
    ('Say, Jim, how about going for a few beers after dinner?', 'You know that is tempting but ...')
    """
    path, _, split = path.partition("#")
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    extension = os.path.splitext(path)[1].lower()
    file_format = file_format or {".jsonl": "jsonl", ".tsv": "tsv", ".json": "json"}.get(extension)
    if file_format not in ("jsonl", "tsv", "dailydialog", "json"):
        raise ValueError(f"{path}: unknown dialogue format {file_format!r}; use jsonl, tsv, dailydialog or json")
    bad_rows, dialogues = [], []
    if file_format == "json":
        data = read_json_file(path)
        if not isinstance(data, dict) or split not in data:
            keys = sorted(data) if isinstance(data, dict) else []
            raise DataError.whole_file(path, {split or "<split>": f"name a split as {path}#<split>; the file has {keys}"})
        # The whole file is one JSON value: the "line" is the dialogue's index in the split, from 1.
        rows = ((index, f"{split}[{index - 1}]", turns) for index, turns in enumerate(data[split], start=1))
    else:
        rows = _dialogue_lines(path, file_format, turns_field, bad_rows)
    source_path = f"{path}#{split}" if split else path
    for line, field, raw in rows:
        turns = _turns_from(raw, source_path, line, field, bad_rows, remove_spaces)
        if turns:
            dialogues.append(Dialogue(tuple(turns), f"{source_path}:{line}"))
    result = ReadResult(dialogues, sorted(bad_rows, key=lambda row: row.line))
    return apply_bad_row_policy(result, on_bad_rows, source_path)

