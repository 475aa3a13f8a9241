"""core.csvsafe: formula-like CSV cells neutralised on the way out and restored exactly on the way in."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.core import csvsafe
from tandem.core.csvsafe import (
    FORMULA_STARTS,
    cell_is_safe,
    cell_neutralise,
    cell_restore,
    cell_restore_strip,
)
from tandem.core.http import csv_response

# The values the issue reported, and the shapes that make the escaping reversible.
ATTACKS = ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]
TRICKY = ["'=already", "'", "''", "'x", "''-1", "normal", "", "a=b", " =x"]

# Text that looks formula-ish often: quotes, formula characters and a few letters, in any order.
formula_text = st.text(
    alphabet=st.sampled_from(["'", "=", "+", "-", "@", "\t", "\r", "\n", " ", "a", "1", '"', ","])
)


@settings(max_examples=2000)
@given(st.one_of(st.text(), formula_text))
def test_restore_gives_back_every_string_and_no_neutralised_cell_starts_with_a_formula_character(text):
    # given any string
    # when it is neutralised
    cell = cell_neutralise(text)
    # then it is safe to open, restores to itself, and changed only by one leading quote when changed at all
    assert cell_is_safe(cell)
    assert cell_restore(cell) == text
    assert cell in (text, "'" + text)


@settings(max_examples=500)
@given(st.lists(st.one_of(st.text(), formula_text), min_size=1, max_size=6))
def test_a_row_through_the_csv_writer_and_reader_comes_back_exactly(cells):
    # given a row of any strings written through the safe writer
    out = io.StringIO()
    csvsafe.writer(out, lineterminator="\n").writerow(cells)
    # when it is read back with the csv module and restored
    (written,) = list(csv.reader(io.StringIO(out.getvalue(), newline="")))
    # then every written cell is safe and the row comes back as it was
    assert all(cell_is_safe(cell) for cell in written)
    assert csvsafe.row_restore(written) == cells


def test_the_reported_values_are_written_with_a_leading_quote():
    # given / when / then
    assert [cell_neutralise(v) for v in ATTACKS] == [
        '\'=HYPERLINK("http://x","y")',
        "'+cmd|' /C calc'!A0",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "'\rx",
    ]


def test_text_already_starting_with_quotes_then_a_formula_character_gets_one_more_quote():
    # given / when / then: only quotes followed by a formula character are escaped; other text is left alone
    assert [cell_neutralise(v) for v in TRICKY] == [
        "''=already",
        "'",
        "''",
        "'x",
        "'''-1",
        "normal",
        "",
        "a=b",
        " =x",
    ]
    assert [cell_restore(cell_neutralise(v)) for v in TRICKY] == TRICKY


def test_numbers_we_write_stay_numbers_but_text_that_looks_like_arithmetic_does_not():
    # given numbers and text
    values = [-5, -2.5, Decimal("-5.00"), 0, True, None, "-5.00", "-2+3", dt.date(2025, 3, 1)]
    # when
    cells = [cell_neutralise(v) for v in values]
    # then numbers and None pass as they are, text is quoted, other values become their text
    assert cells == [-5, -2.5, Decimal("-5.00"), 0, True, None, "'-5.00", "'-2+3", "2025-03-01"]


def test_restore_strip_keeps_the_whitespace_a_quote_protects_and_drops_the_rest():
    # given cells as a hand-edited file or our writer may hold them
    cells = ["'\tx", "  '=x  ", "'\t", "  plain  ", "'\r\n", "\tx"]
    # when / then
    assert [cell_restore_strip(c) for c in cells] == ["\tx", "=x", "", "plain", "", "x"]


def test_dict_writer_neutralises_values_and_header_and_keeps_numbers():
    # given a row with a user-named column and a negative number
    out = io.StringIO()
    writer = csvsafe.DictWriter(
        out, fieldnames=["key", "=col", "roi"], extrasaction="ignore", lineterminator="\n"
    )
    # when
    writer.writeheader()
    writer.writerows([{"key": "=1+1", "=col": "@x", "roi": -0.5, "extra": "=ignored"}])
    writer.writerow({"key": "plain", "roi": Decimal("-5.00")})
    # then
    assert out.getvalue() == "key,'=col,roi\n'=1+1,'@x,-0.5\nplain,,-5.00\n"


def test_a_cell_holding_a_lone_cr_or_a_semicolon_is_quoted_so_its_text_cannot_start_a_row_or_cell():
    # given cells that would split in a reader taking a bare CR as a row end, or ';' as the separator
    out = io.StringIO()
    writer = csvsafe.writer(out, lineterminator="\n")
    # when
    writer.writerow(["x\r=cmd()", "a;=1+1", "plain", -3, None])
    writer.writerow(["b", "c"])
    # then those cells are quoted (csv alone writes the CR bare), the rest as csv writes them
    assert out.getvalue() == '"x\r=cmd()","a;=1+1",plain,-3,\nb,c\n'
    assert list(csv.reader(io.StringIO(out.getvalue(), newline=""))) == [
        ["x\r=cmd()", "a;=1+1", "plain", "-3", ""],
        ["b", "c"],
    ]


def test_a_verbatim_writer_writes_cells_as_given_but_still_quotes_line_breaks():
    # given a file read back to be written as it was (cells already neutralised, or a user's own)
    out = io.StringIO()
    # when
    csvsafe.writer(out, lineterminator="\n", verbatim=True).writerow(["'=x", "=y", "a\rb"])
    # then
    assert out.getvalue() == '\'=x,=y,"a\rb"\n'


def test_csv_response_neutralises_text_cells_and_keeps_numbers():
    # given rows with formula-like text and numbers
    rows = [{"key": value, "n": -1} for value in ATTACKS]
    # when
    response = csv_response(filename="x.csv", columns=["key", "n"], rows=rows)
    # then
    written = list(csv.reader(io.StringIO(response.content.decode(), newline="")))
    assert written[0] == ["key", "n"]
    assert [row[0] for row in written[1:]] == ["'" + v for v in ATTACKS]
    assert {row[1] for row in written[1:]} == {"-1"}
    assert all(cell_is_safe(cell) for row in written for cell in row if not re.fullmatch(r"-\d+", cell))


def test_no_module_writes_csv_except_through_csvsafe():
    # given every module of the product
    root = Path(csvsafe.__file__).parents[1]
    # when we look for the csv module's writers
    writers = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        if path.name != "csvsafe.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if re.search(r"\bcsv\.(writer|DictWriter)\(", line)
    ]
    # then there are none: new exports get the neutralising writer by default
    assert writers == []


def test_formula_starts_are_the_owasp_list():
    assert sorted(FORMULA_STARTS) == sorted("=+-@\t\r")
