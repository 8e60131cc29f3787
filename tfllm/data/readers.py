"""Readers for classification data in CSV, TSV and JSONL files, and TFDS datasets.

Every row either becomes a `TextExample` or a `BadRow` naming file, line and field. Nothing is dropped
silently: with `on_bad_rows="error"` (the default) any bad row stops the read with all of them listed;
with `"skip"` they are left out, logged and returned in the `ReadResult`.
"""

import codecs
import csv
import dataclasses
import functools
import json
import logging
import os
from typing import List

import tensorflow as tf

from tfllm.data.examples import NOTHING_LEFT_ADVICE, BadRow, DataError, TextExample

_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl"}
# Python's csv module refuses fields over 131072 characters by default; a long document is a row like any other.
_CSV_FIELD_LIMIT = 2**31 - 1


@dataclasses.dataclass
class ReadResult:
    examples: List[TextExample]
    bad_rows: List[BadRow]


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    """Which fields hold the text, the optional second text, and the label.

    Args:
        text: the text column.
        text_pair: the second text's column, for sentence-pair tasks.
        label: the label column (strings or integers); None for unlabeled data.
        multi_label: labels are lists (JSONL) or `label_separator`-joined strings (CSV/TSV).
        label_separator: separator of several labels in one CSV/TSV field.
        group: a column whose values split evaluation reports (e.g. language); None for none.
    """

    text: str = "text"
    text_pair: str = None
    label: str = "label"
    multi_label: bool = False
    label_separator: str = "|"
    group: str = None


def _decoded_lines(path, bad_rows):
    """Yields (line number, text) for each line; undecodable lines become bad rows. A UTF-8 byte-order
    mark (what Excel writes) is not part of the first line; a file that starts with a UTF-16 one (Excel's
    "Unicode Text") is read as UTF-16."""
    with tf.io.gfile.GFile(path, "rb") as f:
        if f.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            f.seek(0)
            try:
                text = _decoded(f.read())
            except UnicodeDecodeError as error:
                raise DataError.whole_file(path, {"<file>": f"not valid UTF-16, as its byte-order mark says: {error}"})
            lines = text.split("\n")  # as the UTF-8 branch splits: at "\n" only, each line keeping it
            yield from enumerate([line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else []), start=1)
            return
        f.seek(0)
        for number, raw in enumerate(f, start=1):
            if number == 1:
                raw = raw.removeprefix(codecs.BOM_UTF8)
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                bad_rows.append(BadRow(path, number, "<row>", f"not valid UTF-8 ({error.reason} at byte "
                                       f"{error.start}); if the file is in another encoding (GBK, Latin-1), save it "
                                       "as UTF-8"))


def read_json_file(path, layout="a UTF-8 JSON file"):
    """The one JSON value a whole file holds (UTF-8, or UTF-16 after its byte-order mark); a DataError at
    line 1 otherwise."""
    with tf.io.gfile.GFile(path, "rb") as f:
        try:
            return json.loads(_decoded(f.read()))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DataError.whole_file(path, {"<file>": f"not {layout}: {error}"}) from None


def _label_value(value, columns, path, line, bad_rows):
    """Normalizes a label to a string (or a tuple of strings); returns None and records a bad row if invalid."""
    if columns.multi_label:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(columns.label_separator) if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            bad_rows.append(BadRow(path, line, columns.label, f"expected a list of labels, got {value!r}"))
            return None
        return tuple(str(v) for v in value)
    if isinstance(value, bool) or not isinstance(value, (str, int)) or str(value).strip() == "":
        bad_rows.append(BadRow(path, line, columns.label, f"missing or invalid label {value!r}"))
        return None
    return str(value).strip()


def text_field(record, field, path, line, bad_rows):
    """The stripped text of `record[field]`, or None with a bad row saying why (missing, not a string, empty)."""
    value = record.get(field)
    if value is None:
        bad_rows.append(BadRow(path, line, field, "missing"))
    elif not isinstance(value, str):
        bad_rows.append(BadRow(path, line, field, f"expected a string, got {type(value).__name__}"))
    elif not value.strip():
        bad_rows.append(BadRow(path, line, field, "empty text"))
    else:
        return value.strip()
    return None


def _example_from_record(record, path, line, bad_rows, columns):
    """Builds an example from a {field: value} record, or records bad rows and returns None."""
    before = len(bad_rows)
    texts = {field: text_field(record, field, path, line, bad_rows) for field in filter(None, (columns.text,
                                                                                               columns.text_pair))}
    label = None
    if columns.label:
        if columns.label not in record:
            bad_rows.append(BadRow(path, line, columns.label, "missing"))
        else:
            label = _label_value(record[columns.label], columns, path, line, bad_rows)
    group = None
    if columns.group:
        group = record.get(columns.group)
        if not isinstance(group, (str, int)) or isinstance(group, bool) or not str(group).strip():
            bad_rows.append(BadRow(path, line, columns.group, f"missing or invalid group {group!r}"))
    if len(bad_rows) > before:
        return None
    return TextExample(texts[columns.text], texts.get(columns.text_pair), label, f"{path}:{line}",
                       str(group).strip() if columns.group else None)


def _file_kind(delimiter):
    return "TSV" if delimiter == "\t" else "CSV"


def _read_delimited(path, fields, build, delimiter, bad_rows, column_names=None):
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL  # TSV (GLUE) keeps quotes as text
    lines = _decoded_lines(path, bad_rows)
    line_numbers = []

    def text_lines():
        for number, text in lines:
            line_numbers.append(number)
            yield text

    csv.field_size_limit(_CSV_FIELD_LIMIT)
    reader = csv.reader(text_lines(), delimiter=delimiter, quoting=quoting)
    header = list(column_names) if column_names else next(reader, None)
    if header is None and not bad_rows:
        raise DataError.whole_file(path, {"<header>": "the file is empty; a header row naming the columns is needed"})
    if not column_names and (header is None or line_numbers[0] != 1):  # the header row itself was undecodable
        raise DataError.whole_file(path, {"<header>": bad_rows[0].reason})
    header = [name.strip() for name in header]
    absent = [c for c in fields if c not in header]
    if absent:
        where = "column_names are" if column_names else "the header has"
        raise DataError.whole_file(path, {c: f"no such column; {where} {header}" for c in absent})
    twice = [c for c in fields if header.count(c) > 1]  # which of them holds the data is anyone's guess
    if twice:
        raise DataError.whole_file(path, {c: f"{header.count(c)} columns have this name: {header}" for c in twice})
    examples = []
    while True:
        first_line = len(line_numbers)  # a quoted field may span lines: report the row's first one
        try:
            row = next(reader, None)
        except csv.Error as error:  # the reader starts afresh at the next line: the rows after it are read
            bad_rows.append(BadRow(path, line_numbers[-1], "<row>", f"unreadable {_file_kind(delimiter)}: {error}"))
            continue
        if row is None:
            break
        line = line_numbers[min(first_line, len(line_numbers) - 1)]
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line: there is no row to lose
        if len(row) != len(header):
            reason = f"has {len(row)} fields, expected {len(header)} ({header})"
            if line_numbers[-1] > line:  # a quote left open swallows the lines after it: say which they are
                reason += (f"; lines {line}-{line_numbers[-1]} were read as this one row, as a quoted field "
                           f"runs across them (a quote on line {line} not closed?)")
            bad_rows.append(BadRow(path, line, "<row>", reason))
            continue
        example = build(dict(zip(header, row)), path, line, bad_rows)
        if example:
            examples.append(example)
    return examples


def _jsonl_records(path, bad_rows):
    """Yields (line, parsed value) for each non-blank line; invalid JSON becomes a bad row."""
    for line, text in _decoded_lines(path, bad_rows):
        if not text.strip():
            continue
        try:
            yield line, json.loads(text)
        except json.JSONDecodeError as error:
            bad_rows.append(BadRow(path, line, "<row>", f"invalid JSON: {error.msg} at column {error.colno}"))


def _json_array_records(path):
    """Yields (index from 1, value) for a file holding one JSON array: a record's "line" is its index."""
    records = read_json_file(path)
    if not isinstance(records, list):
        raise DataError.whole_file(path, {"<file>": f"expected a JSON array of objects, got {type(records).__name__}"})
    yield from enumerate(records, start=1)


def _examples_from_records(records, build, path, bad_rows):
    examples = []
    for line, record in records:
        if not isinstance(record, dict):
            bad_rows.append(BadRow(path, line, "<row>", "expected a JSON object"))
            continue
        example = build(record, path, line, bad_rows)
        if example:
            examples.append(example)
    return examples


def _json_kind(path):
    """ "json" for a file that starts with a JSON array, else "jsonl"."""
    with tf.io.gfile.GFile(path, "rb") as f:
        start = _decoded(f.read(4096), errors="ignore").lstrip()
    return "json" if start.startswith("[") else "jsonl"


def _decoded(data, errors="strict"):
    """Bytes of a file (or of its start) as text: UTF-16 after its byte-order mark, else UTF-8 (a UTF-8 mark
    dropped)."""
    utf16 = data[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    return data.decode("utf-16" if utf16 else "utf-8-sig", errors=errors)


def apply_bad_row_policy(result, on_bad_rows, path):
    """`result` under the bad-row policy; a file with no rows, or (under skip) only bad ones, is an error."""
    if on_bad_rows not in ("error", "skip"):
        raise ValueError(f"on_bad_rows must be 'error' or 'skip', not {on_bad_rows!r}")
    if not result.examples and not result.bad_rows:
        raise DataError.whole_file(path, {"<file>": "the file is empty: it holds no rows"})
    if result.bad_rows and on_bad_rows == "error":
        raise DataError(result.bad_rows)
    if result.bad_rows and not result.examples:
        raise DataError(result.bad_rows, NOTHING_LEFT_ADVICE)
    for row in result.bad_rows:
        logging.warning("skipped bad row: %s", row)
    return result


def read_text_examples(path, columns=ColumnSpec(), file_format=None, on_bad_rows="error", column_names=None):
    """Reads a CSV, TSV, JSONL or JSON file of texts (and labels) into validated examples.

    Args:
        path: the file (any `tf.io.gfile` path). CSV and TSV files start with a header row, unless
            `column_names` names their columns.
        columns: a `ColumnSpec` naming the fields.
        file_format: "csv", "tsv", "jsonl" or "json" (one array of objects; a record's "line" is its
            index); by default from the file's extension (.json: whichever of the two the file holds).
        on_bad_rows: "error" stops on any bad row, listing them all; "skip" leaves them out and counts them.
        column_names: for CSV and TSV files without a header row, the names of their columns in order.

    Returns:
        A `ReadResult` with the examples and the bad rows.

    Raises:
        DataError: on bad rows when `on_bad_rows="error"`, and always for a missing header or column.

    Example:
    >>> result = read_text_examples("examples/intents/train.csv", ColumnSpec(text="text", label="intent"))
    >>> len(result.examples), len(result.bad_rows)
    (907, 0)
    >>> example = result.examples[0]
    >>> example.text, example.label, example.source
    ('搅拌机有红色的吗', 'product_availability', 'examples/intents/train.csv:2')
    """
    fields = [c for c in (columns.text, columns.text_pair, columns.label, columns.group) if c]
    return read_rows(path, fields, functools.partial(_example_from_record, columns=columns), file_format,
                     on_bad_rows, column_names)


def read_rows(path, fields, build, file_format=None, on_bad_rows="error", column_names=None):
    """Reads the rows of a CSV, TSV, JSONL or JSON file into examples, one `build` call per row.

    Args:
        path: the file (any `tf.io.gfile` path).
        fields: the columns a CSV/TSV header must have.
        build: `build(record, path, line, bad_rows)`, a {field: value} record to an example, or to None
            after appending the row's problems to `bad_rows`.
        file_format, on_bad_rows, column_names: as `read_text_examples` takes them.

    Returns:
        A `ReadResult` of the examples and the bad rows: every row is one or the other.
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    extension = os.path.splitext(path)[1].lower()
    file_format = file_format or (_json_kind(path) if extension == ".json" else _FORMATS.get(extension))
    bad_rows = []
    if file_format in ("csv", "tsv"):
        examples = _read_delimited(path, fields, build, "," if file_format == "csv" else "\t", bad_rows, column_names)
    elif file_format in ("jsonl", "json"):
        records = _jsonl_records(path, bad_rows) if file_format == "jsonl" else _json_array_records(path)
        examples = _examples_from_records(records, build, path, bad_rows)
    else:
        named = (f"format {file_format!r}" if file_format else
                 f"format: its extension {extension or '(none)'!r} names none")
        raise ValueError(f"{path}: unknown {named}; use csv, tsv, jsonl or json (data.format)")
    return apply_bad_row_policy(ReadResult(examples, sorted(bad_rows, key=lambda r: r.line)), on_bad_rows, path)


def read_tfds_examples(name, split, columns=ColumnSpec(text="sentence", label="label"), on_bad_rows="error",
                       data_dir=None):
    """Reads a TFDS dataset (e.g. "glue/sst2") by name; integer labels become their class names.

    Needs the `tensorflow-datasets` package (`pip install tfllm[tfds]`) and, the first time, the network;
    `data_dir` points at datasets prepared before (a local or gs:// TFDS data dir).
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        raise ImportError("TFDS datasets need tensorflow-datasets: pip install 'tfllm[tfds]'") from None
    dataset, info = tfds.load(name, split=split, with_info=True, data_dir=data_dir)
    feature = info.features[columns.label] if columns.label else None
    label_names = getattr(feature, "names", None)
    source = f"tfds:{name}/{split}"
    bad_rows, examples = [], []
    for index, record in enumerate(tfds.as_numpy(dataset), start=1):
        decoded, undecodable = {}, False
        for key, value in record.items():
            if isinstance(value, bytes):
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError:
                    bad_rows.append(BadRow(source, index, key, "not valid UTF-8"))
                    undecodable = True
                    continue
            elif key == columns.label and label_names and int(value) >= 0:
                value = label_names[int(value)]
            elif hasattr(value, "item"):
                value = value.item()
            decoded[key] = value
        example = None if undecodable else _example_from_record(decoded, source, index, bad_rows, columns)
        if example:
            examples.append(example)
    return apply_bad_row_policy(ReadResult(examples, bad_rows), on_bad_rows, source)
