"""Validated examples, and how bad input rows are reported."""

import dataclasses
from typing import Optional, Tuple, Union


@dataclasses.dataclass(frozen=True)
class TextExample:
    """One input: a text, an optional second text (sentence pairs), and its label(s), if known.

    `source` is "file:line", so that any later complaint about the example can say where it came from.
    """

    text: str
    text_pair: Optional[str] = None
    label: Union[None, str, Tuple[str, ...]] = None
    source: str = ""
    group: Optional[str] = None  # the value of `ColumnSpec.group`, by which reports break scores down


@dataclasses.dataclass(frozen=True)
class BadRow:
    """A row that could not be read: where (file, line, field) and why."""

    path: str
    line: int
    field: str
    reason: str

    def __str__(self):
        return f"{self.path}:{self.line}: field {self.field!r}: {self.reason}"


def bad_row_count(bad_rows):
    """How many rows `bad_rows` names (one row may have several bad fields)."""
    return len({(row.path, row.line) for row in bad_rows})


SKIP_ADVICE = "fix them, or set on_bad_rows: skip to leave them out (they are then counted and listed)"
NOTHING_LEFT_ADVICE = "no good row is left, so on_bad_rows: skip cannot help; fix them"


class DataError(ValueError):
    """Input rows were bad and the policy is to stop. Lists every bad row (the first 20 in the message).

    Args:
        bad_rows: the `BadRow`s.
        advice: what the user can do, said after the count of bad rows: by default fix or skip them
            (`SKIP_ADVICE`); None: the rows alone are the message (see `whole_file`).
    """

    def __init__(self, bad_rows, advice=SKIP_ADVICE):
        self.bad_rows = list(bad_rows)
        shown = "\n  ".join(str(row) for row in self.bad_rows[:20])
        if advice is None:
            super().__init__(shown)
            return
        more = f"\n  ... and {len(self.bad_rows) - 20} more" if len(self.bad_rows) > 20 else ""
        problems = f" ({len(self.bad_rows)} problems)" if len(self.bad_rows) > bad_row_count(self.bad_rows) else ""
        super().__init__(f"{bad_row_count(self.bad_rows)} bad row(s){problems}; {advice}:\n  {shown}{more}")

    @classmethod
    def whole_file(cls, path, problems):
        """The error of a file that cannot be read as a whole (empty, a column missing, not its layout): no
        row can be left out, so it gives no advice to skip. `problems`: {field: reason}, at line 1."""
        return cls([BadRow(path, 1, field, reason) for field, reason in problems.items()], advice=None)
