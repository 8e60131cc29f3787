import pytest

from tfllm.data.examples import DataError, TextExample
from tfllm.data.labels import LabelSet
from tfllm.data.readers import ColumnSpec, read_text_examples


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def test_reads_csv_tsv_jsonl_with_sources(tmp_path):
    csv_path = write(tmp_path, "a.csv", 'text,label\n"hello, ""world""",pos\n"two\nlines",neg\nlast,pos\n')
    result = read_text_examples(csv_path)
    assert [e.text for e in result.examples] == ['hello, "world"', "two\nlines", "last"]
    assert [e.source for e in result.examples] == [f"{csv_path}:2", f"{csv_path}:3", f"{csv_path}:5"]
    tsv_path = write(tmp_path, "a.tsv", 'sentence\tlabel\nit \'s "fine" \t1\n')
    assert read_text_examples(tsv_path, ColumnSpec(text="sentence")).examples[0].text == 'it \'s "fine"'
    jsonl_path = write(tmp_path, "a.jsonl", '{"q": "a", "p": "b", "tags": ["x", "y"]}\n')
    example = read_text_examples(jsonl_path, ColumnSpec(text="q", text_pair="p", label="tags", multi_label=True)).examples[0]
    assert example == TextExample("a", "b", ("x", "y"), f"{jsonl_path}:1")


@pytest.mark.parametrize("name, content, line, field, reason", [
    ("empty.csv", "text,label\n   ,pos\n", 2, "text", "empty text"),
    ("nolabel.csv", "text,label\nhello,\n", 2, "label", "missing or invalid label"),
    ("ragged.tsv", "text\tlabel\nok\tpos\ntoo\tmany\tfields\n", 3, "<row>", "has 3 fields"),
    ("bytes.csv", b"text,label\nfine,pos\n\xff\xfe broken,neg\n", 3, "<row>", "not valid UTF-8"),
    ("bad.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": \n', 2, "<row>", "invalid JSON"),
    ("missing.jsonl", '{"label": "x"}\n', 1, "text", "missing"),
    ("type.jsonl", '{"text": 3, "label": "x"}\n', 1, "text", "expected a string"),
])
def test_each_bad_row_names_file_line_and_field(tmp_path, name, content, line, field, reason):
    path = write(tmp_path, name, content)
    with pytest.raises(DataError) as error:
        read_text_examples(path)
    bad = error.value.bad_rows[0]
    assert (bad.path, bad.line, bad.field) == (path, line, field)
    assert reason in bad.reason and f"{path}:{line}" in str(error.value)


def test_skip_policy_counts_bad_rows_and_keeps_the_rest(tmp_path):
    path = write(tmp_path, "mixed.csv", "text,label\ngood,pos\n,neg\nalso good,pos\nno label,\n")
    result = read_text_examples(path, on_bad_rows="skip")
    assert [e.text for e in result.examples] == ["good", "also good"]
    assert [(r.line, r.field) for r in result.bad_rows] == [(3, "text"), (5, "label")]


def test_a_quote_left_open_names_the_lines_it_swallowed(tmp_path):
    # The csv module reads from an unclosed quote to the file's end as one field: the lines after it were
    # lost without a word, the bad row naming its first line only.
    path = write(tmp_path, "quote.csv", 'text,label\ngood,pos\n"unclosed,neg\nalso good,pos\nfine,pos\n')
    result = read_text_examples(path, on_bad_rows="skip")
    assert [e.text for e in result.examples] == ["good"] and [r.line for r in result.bad_rows] == [3]
    assert "lines 3-5 were read as this one row, as a quoted field runs across them (a quote on line 3 not " \
           "closed?)" in result.bad_rows[0].reason


@pytest.mark.parametrize("name", ["long.csv", "long.tsv"])
def test_fields_of_any_length_are_read_and_every_row_is_used_or_reported(tmp_path, name):
    # A field over the csv module's default limit (131072 characters) once ended the read at that row.
    separator = "," if name.endswith(".csv") else "\t"
    rows = [f"row {n}{separator}pos" for n in range(40)]
    rows[20] = "word " * 40000 + f"{separator}neg"
    rows[25], rows[31] = f"{separator}neg", f"three{separator}fields{separator}here"  # two bad rows
    path = write(tmp_path, name, f"text{separator}label\n" + "\n".join(rows) + "\n")
    result = read_text_examples(path, on_bad_rows="skip")
    assert len(result.examples) + len(result.bad_rows) == 40 and len(result.bad_rows) == 2
    assert len(result.examples[20].text) == len("word " * 40000) - 1 and result.examples[-1].text == "row 39"


@pytest.mark.parametrize("name, content", [
    ("excel.csv", "text,label\nhello,pos\n"), ("excel.tsv", "text\tlabel\nhello\tpos\n"),
    ("first.jsonl", '{"text": "hello", "label": "pos"}\n'), ("array.json", '[{"text": "hello", "label": "pos"}]'),
])
def test_a_byte_order_mark_is_not_part_of_the_first_row(tmp_path, name, content):
    path = write(tmp_path, name, b"\xef\xbb\xbf" + content.encode("utf-8"))
    assert read_text_examples(path).examples == [TextExample("hello", None, "pos", f"{path}:{1 if 'json' in name else 2}")]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("name, content", [
    ("excel_unicode_text.tsv", "text\tlabel\r\n好电影\tpos\r\nbad film\tneg\r\n"),  # Excel's "Unicode Text"
    ("utf16.csv", "text,label\n好电影,pos\nbad film,neg\n"),
    ("utf16.jsonl", '{"text": "好电影", "label": "pos"}\n{"text": "bad film", "label": "neg"}\n'),
    ("utf16.json", '[{"text": "好电影", "label": "pos"}, {"text": "bad film", "label": "neg"}]'),
])
def test_a_file_with_a_utf16_byte_order_mark_is_read_as_utf16(tmp_path, name, content, encoding):
    # Its first line was a bad row, so a CSV's header was its second line (a row of data) and no column was found.
    bom = b"\xff\xfe" if encoding.endswith("le") else b"\xfe\xff"
    path = write(tmp_path, name, bom + content.encode(encoding))
    first = 1 if "json" in name else 2  # a JSON array's "lines" are its items' positions
    assert [(e.text, e.label, e.source) for e in read_text_examples(path).examples] == [
        ("好电影", "pos", f"{path}:{first}"), ("bad film", "neg", f"{path}:{first + 1}")]


def test_a_file_in_another_encoding_is_named_so_and_its_undecodable_header_is_no_row(tmp_path):
    gbk = write(tmp_path, "gbk.csv", "text,label\n好电影,pos\nbad,neg\n".encode("gbk"))
    with pytest.raises(DataError, match=r"gbk.csv:2: field '<row>': not valid UTF-8 \(.*\); if the file is in "
                                        r"another encoding \(GBK, Latin-1\), save it as UTF-8"):
        read_text_examples(gbk)
    # The header row was skipped as a bad row and the first row of data taken for the header.
    header = write(tmp_path, "header.csv", "文本,标签\n好电影,pos\nbad,neg\n".encode("gbk"))
    with pytest.raises(DataError, match=r"header.csv:1: field '<header>': not valid UTF-8") as error:
        read_text_examples(header, ColumnSpec(text="文本", label="标签"), on_bad_rows="skip")
    assert "on_bad_rows" not in str(error.value)


@pytest.mark.parametrize("name, content", [("empty.jsonl", ""), ("blank.jsonl", "\n\n"), ("empty.json", "[]"),
                                           ("header_only.csv", "text,label\n")])
def test_an_empty_file_says_it_is_empty(tmp_path, name, content):
    path = write(tmp_path, name, content)
    with pytest.raises(DataError, match=f"{name}:1: field '<file>': the file is empty") as error:
        read_text_examples(path, on_bad_rows="skip")
    assert "bad row" not in str(error.value) and "on_bad_rows" not in str(error.value)  # no row to skip: no such advice


def test_a_file_of_only_bad_rows_is_an_error_also_under_skip(tmp_path):
    path = write(tmp_path, "bad.jsonl", '{"text": ""}\n{"label": "x"}\n')
    # Rows, not problems, are counted; and skip, already set, is not offered again.
    with pytest.raises(DataError, match=r"2 bad row\(s\) \(3 problems\); no good row is left, so on_bad_rows: skip cannot"):
        read_text_examples(path, on_bad_rows="skip")
    with pytest.raises(DataError, match=r"2 bad row\(s\) \(3 problems\); fix them, or set on_bad_rows: skip"):
        read_text_examples(path)


def test_a_group_column_is_read_and_a_row_without_its_value_is_a_bad_row(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("text,label,language\nhello,a,en\n你好,b,zh\nhi,a,\n", encoding="utf-8")
    result = read_text_examples(str(path), ColumnSpec(group="language"), on_bad_rows="skip")
    assert [e.group for e in result.examples] == ["en", "zh"]
    assert [(row.line, row.field) for row in result.bad_rows] == [(4, "language")]
    with pytest.raises(DataError, match="no such column"):
        read_text_examples(str(path), ColumnSpec(group="lang"))

def test_missing_column_is_reported_with_the_header(tmp_path):
    path = write(tmp_path, "cols.csv", "sentence,label\nhi,pos\n")
    with pytest.raises(DataError, match=r"cols.csv:1: field 'text': no such column; the header has \['sentence', 'label'\]"):
        read_text_examples(path)
    path = write(tmp_path, "twice.csv", "text,label,text\nhi,pos,bye\n")
    with pytest.raises(DataError, match=r"twice.csv:1: field 'text': 2 columns have this name: \['text', 'label', 'text'\]"):
        read_text_examples(path)


def test_unknown_labels_are_bad_rows():
    labels = LabelSet(["neg", "pos"])
    examples = [TextExample("a", None, "pos", "dev.csv:2"), TextExample("b", None, "neutral", "dev.csv:3")]
    (bad,) = labels.unknown(examples, "label")
    assert (bad.path, bad.line, bad.field) == ("dev.csv", 3, "label") and "neutral" in bad.reason


def test_label_set_sorts_integer_labels_numerically():
    examples = [TextExample("a", None, label) for label in ["10", "2", "1"]]
    assert LabelSet.from_examples(examples).names == ["1", "2", "10"]


def test_tfds_dataset_by_name_with_class_names_and_bad_rows(tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets", reason="needs tensorflow-datasets (pip install 'tfllm[tfds]')")
    import tensorflow as tf

    from tfllm.data.readers import read_tfds_examples

    texts = [b"a fine film", "好电影".encode(), b"caf\xc3 broken", b"dull"]
    builder = tfds.dataset_builders.TfDataBuilder(  # what a prepared TFDS data dir holds, built offline
        name="tiny_reviews", version="1.0.0", data_dir=str(tmp_path),
        split_datasets={"train": tf.data.Dataset.from_tensor_slices({"sentence": texts, "label": [1, 1, 0, 0]})},
        features=tfds.features.FeaturesDict({"sentence": tfds.features.Text(),
                                             "label": tfds.features.ClassLabel(names=["negative", "positive"])}))
    builder.download_and_prepare()
    # Record numbers follow TFDS's read order; each bad record is reported once.
    with pytest.raises(DataError, match=r"1 bad row.*\n  tfds:tiny_reviews/train:\d: field 'sentence': not valid UTF-8$"):
        read_tfds_examples("tiny_reviews", "train", data_dir=str(tmp_path))
    result = read_tfds_examples("tiny_reviews", "train", on_bad_rows="skip", data_dir=str(tmp_path))
    assert sorted((e.text, e.label) for e in result.examples) == [
        ("a fine film", "positive"), ("dull", "negative"), ("好电影", "positive")]
    assert len(result.bad_rows) == 1
