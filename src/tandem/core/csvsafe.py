"""CSV cells a spreadsheet will not run: formula-like text neutralised on the way out, restored on the way in.

A spreadsheet opening a CSV file runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and some
treat a leading tab or carriage return the same way), so text a visitor typed into a form, such as
`=HYPERLINK("http://evil","click")` or `+cmd|' /C calc'!A0`, would run on the desk of whoever opens an export
(CSV formula injection). As OWASP recommends, every text cell starting with one of those characters is written
with a single quote in front; spreadsheets show it as text.

The escaping is reversible, so that Tandem's own files (the interchange bundle, refused rows) come back
exactly: a text that itself starts with quotes followed by a formula character (`'=x`, `''-1`) gets one more
quote too, and `cell_restore` takes exactly one quote off any cell of that shape. So
`cell_restore(cell_neutralise(x)) == x` for every string, and no neutralised cell starts with a formula
character. Numbers (int, float, Decimal) are values we wrote, not text: `-5.00` stays a number.

No Django here: capture, analytics, scoring and the CLI all write through it (`writer`, `DictWriter`,
`tandem.core.http.csv_response`).
"""

from __future__ import annotations

import csv
import io
import numbers
import re
from collections.abc import Collection, Iterable
from typing import Any, Literal

# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = frozenset("=+-@\t\r")
# A cell that one quote more than its text starts with: quotes, then a formula character.
_QUOTED_FORMULA = re.compile(r"'+[=+\-@\t\r]")
_QUOTE = "'"
# Characters that end a row or a cell in some reader even inside a cell the csv module would leave unquoted.
_BREAKING = re.compile("[\r\n;]")
_FORCED = "\r\n;"


def cell_neutralise(value: Any) -> Any:
    """The value as a CSV cell no spreadsheet runs: numbers and None as they are, text quoted when formula-like."""
    if type(value) is str:  # the common case, before the slower checks
        text = value
    elif value is None or isinstance(value, numbers.Number):
        return value
    else:
        text = str(value)
    first = text[:1]
    if first in FORMULA_STARTS:
        return _QUOTE + text
    if first == _QUOTE and _QUOTED_FORMULA.match(text):
        return _QUOTE + text
    return text


def cell_restore(text: str) -> str:
    """The text `cell_neutralise` was given: one leading quote taken off a cell of quotes then a formula character."""
    if text[:1] == _QUOTE and _QUOTED_FORMULA.match(text):
        return text[1:]
    return text


def cell_restore_strip(text: str) -> str:
    r"""The cell restored and stripped of surrounding whitespace, as readers that strip cells want it: the
    whitespace a quote protected (`'\tx` is the text `\tx`) is kept, a cell of nothing else reads empty."""
    stripped = text.strip()
    if stripped[:1] != _QUOTE:
        return stripped
    # lstrip first: the quote must be the cell's first character; rstrip last: `'\t` is a tab, and a tab
    # alone strips to empty as it would have unquoted.
    return cell_restore(text.lstrip()).rstrip()


def row_neutralise(cells: Iterable[Any]) -> list[Any]:
    """Every cell of a row neutralised."""
    return [cell_neutralise(value) for value in cells]


def row_restore(cells: Iterable[str]) -> list[str]:
    """Every cell of a row restored."""
    return [cell_restore(text) for text in cells]


def cell_is_safe(text: str) -> bool:
    """Whether a cell as written starts with no formula character (what tests of every export check)."""
    return text[:1] not in FORMULA_STARTS


class Writer:
    r"""csv.writer whose every cell goes through cell_neutralise (the header's too), and whose cells holding a line
    break or a semicolon are always quoted.

    The csv module quotes a cell only for the characters of its own dialect: with a `\n` line terminator a lone
    `\r` is written bare, and every reader (spreadsheets and Python's csv included) takes it as the end of the
    row, so `x\r=cmd()` would start a new row with a formula. A semicolon is the separator a spreadsheet uses
    in many locales, where `x;=cmd()` would start a new cell. Quoting those cells keeps the rest of the text
    inside the cell that was neutralised.
    """

    def __init__(
        self, handle: Any, dialect: str | csv.Dialect = "excel", *, verbatim: bool = False, **options: Any
    ) -> None:
        # verbatim: cells written as given, for a file written back as it was read (a user's upload, or a file
        # csvsafe wrote and that was read without restoring); its line breaks are still quoted.
        self._neutralise = (lambda row: list(row)) if verbatim else row_neutralise
        self._handle = handle
        self._writer = csv.writer(handle, dialect, **options)
        self._terminator = self._writer.dialect.lineterminator
        # csv quotes a cell holding any character of the line terminator, so a row rendered with this one has
        # exactly the cells that need it quoted; the real terminator replaces it after.
        self._forced = csv.writer(io.StringIO(), dialect, **{**options, "lineterminator": _FORCED}).dialect

    @property
    def dialect(self) -> Any:
        return self._writer.dialect

    def writerow(self, row: Iterable[Any]) -> Any:
        cells = self._neutralise(row)
        if any(isinstance(cell, str) and _BREAKING.search(cell) for cell in cells):
            buffer = io.StringIO()
            csv.writer(buffer, self._forced).writerow(cells)
            return self._handle.write(buffer.getvalue()[: -len(_FORCED)] + self._terminator)
        return self._writer.writerow(cells)

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(
    handle: Any, dialect: str | csv.Dialect = "excel", *, verbatim: bool = False, **options: Any
) -> Writer:
    """A csv.writer that neutralises formula-like text cells (verbatim: writes them as given, see Writer)."""
    return Writer(handle, dialect, verbatim=verbatim, **options)


class DictWriter(csv.DictWriter):
    """csv.DictWriter that neutralises formula-like text cells (the header's too: custom columns are named by users)."""

    def __init__(
        self,
        handle: Any,
        fieldnames: Collection[str],
        restval: Any = "",
        extrasaction: Literal["raise", "ignore"] = "raise",
        dialect: str | csv.Dialect = "excel",
        **options: Any,
    ) -> None:
        super().__init__(handle, fieldnames, restval, extrasaction, dialect, **options)
        # csv.DictWriter writes every row (writeheader and writerows included) through self.writer.
        self.writer = Writer(handle, dialect, **options)  # type: ignore[assignment]
