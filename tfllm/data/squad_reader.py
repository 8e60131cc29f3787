"""A reader for extractive question answering in the SQuAD v1.1 JSON format (also XQuAD)."""

import dataclasses
from typing import Tuple

import tensorflow as tf

from tfllm.data.examples import BadRow, DataError
from tfllm.data.readers import ReadResult, apply_bad_row_policy, read_json_file


@dataclasses.dataclass(frozen=True)
class Answer:
    """An answer span: `context[start:start + len(text)] == text`, in characters."""

    text: str
    start: int


@dataclasses.dataclass(frozen=True)
class QAExample:
    """A question about a context and its gold answers (none for unlabeled data).

    `source` is "file:article/paragraph/question" (1-based positions in the file) and the question's id.
    """

    question: str
    context: str
    answers: Tuple[Answer, ...] = ()
    id: str = ""
    source: str = ""
    title: str = ""


def read_squad(path, on_bad_rows="error", labeled=True):
    """Reads a SQuAD v1.1-format file: {"data": [{"title", "paragraphs": [{"context", "qas": [...]}]}]}.

    Each question becomes a `QAExample`. SQuAD files are one JSON document, so a bad question is named
    by its place ("article/paragraph/question", 1-based) and id instead of a line: an empty question or
    context, or an answer whose `answer_start` does not point at its `text` in the context.

    Args:
        path: the file (any `tf.io.gfile` path).
        on_bad_rows: "error" stops on any bad question, listing them all; "skip" leaves them out and counts them.
        labeled: require at least one answer per question (training and evaluation data).

    Example (not run by the test command: it needs a SQuAD-format file):
    >>> examples = read_squad("squad/dev-v1.1.json").examples  # doctest: +SKIP
    >>> examples[0].question, examples[0].answers[0]  # doctest: +SKIP
    ('Which NFL team represented the AFC at Super Bowl 50?', Answer(text='Denver Broncos', start=177))
    """
    examples, bad_rows = [], []
    for a, p, title, paragraph in squad_paragraphs(path, bad_rows):
        for q, qa in _objects(paragraph, "qas", path, f"{a}/{p}", bad_rows):
            place = f"{a}/{p}/{q}" + (f" (id {qa['id']})" if "id" in qa else "")
            example = _example(qa, paragraph.get("context"), title, path, place, labeled, bad_rows)
            if example:
                examples.append(example)
    return apply_bad_row_policy(ReadResult(examples, bad_rows), on_bad_rows, path)


def squad_paragraphs(path, bad_rows):
    """Yields (article, paragraph (1-based positions), the article's title, the paragraph) for each
    paragraph of the SQuAD-format file `path`; an article or paragraph that is not a JSON object, or a
    list field that is not a list, is a bad row named by its place (such files are often hand-edited or
    converted). A file without the layout is a `DataError`."""
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"{path}: no such file")
    document = read_json_file(path, "a SQuAD-format JSON file")
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise DataError.whole_file(path, {"data": "expected {\"data\": [articles]}, the SQuAD layout"})
    for a, article in _objects(document, "data", path, "", bad_rows):
        for p, paragraph in _objects(article, "paragraphs", path, str(a), bad_rows):
            yield a, p, article.get("title", ""), paragraph


def _objects(container, field, path, place, bad_rows):
    """Yields (1-based position, item) for the JSON objects in `container[field]` (missing: none), lazily,
    so that bad rows are reported in the file's order."""
    items = container.get(field, [])
    if not isinstance(items, list):
        bad_rows.append(BadRow(path, place or field, field, f"expected a list, got {type(items).__name__}"))
        return
    for i, item in enumerate(items, start=1):
        if isinstance(item, dict):
            yield i, item
        else:
            bad_rows.append(BadRow(path, f"{place}/{i}" if place else str(i), field,
                                   f"expected an object, got {type(item).__name__}"))


def _example(qa, context, title, path, place, labeled, bad_rows):
    bad = lambda field, reason: bad_rows.append(BadRow(path, place, field, reason))  # noqa: E731
    if not isinstance(context, str) or not context.strip():
        bad("context", "missing or empty context")
        return None
    question = qa.get("question")
    if not isinstance(question, str) or not question.strip():
        bad("question", "missing or empty question")
        return None
    given = qa.get("answers", [])
    if not isinstance(given, list) or not all(isinstance(answer, dict) for answer in given):
        bad("answers", f"expected a list of {{\"text\", \"answer_start\"}} objects, got {given!r:.60}")
        return None
    answers = []
    for answer in given:
        text, start = answer.get("text"), answer.get("answer_start")
        located = locate_answer(context, text, start)
        if located is None:
            bad("answers", f"answer {text!r} (at {start!r}) is not in the context")
            return None
        answers.append(located)
    if labeled and not answers:
        bad("answers", "no answer")
        return None
    return QAExample(question, context, tuple(answers), str(qa.get("id", "")), f"{path}:{place}", title)


def locate_answer(context, text, start=None):
    """The `Answer` of `text` in `context` by the rule of SQuAD's own tooling: the answer's surrounding
    whitespace is not part of it, and the occurrence nearest to `start` is the answer (the first one
    when `start` is missing or -1, as files that give answers as text only write it); None when the
    text is not in the context at all.

    Example:
    >>> locate_answer("It was Denver Broncos.", " Denver Broncos", 6)
    Answer(text='Denver Broncos', start=7)
    >>> locate_answer("It was Denver Broncos.", "Broncos", -1)
    Answer(text='Broncos', start=14)
    """
    if not isinstance(text, str) or not text.strip() or not isinstance(context, str):
        return None
    stripped = text.strip()
    hint = start + len(text) - len(text.lstrip()) if isinstance(start, int) and start >= 0 else -1
    found, position = None, context.find(stripped)
    while position != -1:
        if found is None or abs(position - hint) < abs(found - hint):
            found = position
        if hint < 0 or position > hint:
            break  # later occurrences are farther from the hint
        position = context.find(stripped, position + 1)
    return None if found is None else Answer(stripped, found)
