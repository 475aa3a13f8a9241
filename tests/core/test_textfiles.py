"""Reading delimited text files as people save them: encoding and delimiter detected (tandem.core.textfiles)."""

from __future__ import annotations

import csv
import tracemalloc

import pytest

from tandem.core.textfiles import TextUnreadable, text_format_detect, text_open, text_read

ROWS = [
    ["email", "first_name", "last_name", "city"],
    ["rene@acme.example", "René", "Größer", "Köln"],
    ["soren@acme.example", "Søren", "Ødegård", "Tromsø"],
    ["zoe@acme.example", "Zoë", "Straße", "Besançon"],
]

ENCODINGS = [
    # (how the file is written, what is detected)
    ("utf-8", "UTF-8"),
    ("utf-8-sig", "UTF-8 with BOM"),
    ("utf-16", "UTF-16 LE"),  # Python writes its BOM little-endian, as Excel's "Unicode text" does
    ("utf-16-be-bom", "UTF-16 BE"),
    ("cp1252", "Windows-1252"),
    ("latin-1", "Windows-1252"),  # the same bytes for these letters: Excel's code page is the one named
]
DELIMITERS = [(",", "comma"), (";", "semicolon"), ("\t", "tab")]


def _file(encoding: str, delimiter: str, rows: list[list[str]] = ROWS) -> bytes:
    text = "".join(delimiter.join(row) + "\r\n" for row in rows)
    if encoding == "utf-16-be-bom":
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(encoding)


@pytest.mark.parametrize(("encoding", "name"), ENCODINGS)
@pytest.mark.parametrize(("delimiter", "word"), DELIMITERS)
def test_every_encoding_and_delimiter_is_detected_and_read_back(encoding, name, delimiter, word, tmp_path):
    # given a file written in that encoding with that delimiter, in memory and on disk
    data = _file(encoding, delimiter)
    path = tmp_path / "people.csv"
    path.write_bytes(data)
    for source in (data, path):
        # when
        fmt = text_format_detect(source=source)
        with text_open(source=source, fmt=fmt) as handle:
            rows = list(csv.reader(handle, delimiter=fmt.delimiter))
        # then the accented names come out as written, the BOM is not part of the first header
        assert fmt.describe() == f"{name}, {word}-separated"
        assert rows == ROWS


def test_utf16_without_a_bom_is_told_by_its_nul_bytes():
    # given
    data = "email\tname\r\nann@acme.example\tAnn Ødegård\r\n".encode("utf-16-le")
    # when
    text, fmt = text_read(source=data)
    # then
    assert (fmt.describe(), text) == (
        "UTF-16 LE, tab-separated",
        "email\tname\r\nann@acme.example\tAnn Ødegård\r\n",
    )


def test_a_windows_1252_letter_far_into_an_ascii_file_is_still_found():
    # given 200,000 ASCII rows (more than the 64 KiB sample), then one Windows-1252 name with a euro sign
    data = ("email;name\n" + "a@acme.example;Plain Name\n" * 200_000 + "z@acme.example;Zoë – 5 €\n").encode(
        "cp1252"
    )
    # when
    text, fmt = text_read(source=data)
    # then
    assert fmt.describe() == "Windows-1252, semicolon-separated"
    assert text.endswith("z@acme.example;Zoë – 5 €\n")


def test_another_code_page_is_left_to_charset_normalizer():
    # given a Russian Excel export (Windows-1251)
    written = "Имя;Фамилия;Город\nИван;Петров;Москва\nОльга;Смирнова;Санкт-Петербург\n"
    # when
    text, fmt = text_read(source=written.encode("cp1251"))
    # then
    assert (fmt.describe(), text) == ("Windows-1251, semicolon-separated", written)


def test_cells_quoting_other_delimiters_do_not_fool_the_sniffer():
    # given a comma file whose quoted cells hold many semicolons and tabs
    data = b'email,notes\na@acme.example,"x;y;z;\tw"\nb@acme.example,"1;2;3;4"\n'
    # when
    fmt = text_format_detect(source=data)
    # then
    assert (fmt.delimiter, fmt.columns) == (",", 2)


def test_a_one_column_file_says_so():
    # given / when
    fmt = text_format_detect(source=b"email\na@acme.example\n")
    # then
    assert fmt.describe() == "UTF-8, one column"


def test_a_file_breaking_its_bom_is_refused_naming_its_line():
    # given a UTF-16 file whose last character is half a surrogate pair
    data = b"\xff\xfe" + "email\na@acme.example\n".encode("utf-16-le") + b"\x00\xd8"
    # when
    with pytest.raises(TextUnreadable) as refused:
        text_format_detect(source=data)
    # then
    assert (refused.value.message, refused.value.line, refused.value.field) == (
        "the file starts like UTF-16 LE text but is not (byte 0x00)",
        3,
        "file",
    )


def test_a_large_file_on_disk_is_streamed_not_held_in_memory(tmp_path):
    # given a 30 MB Windows-1252 file on disk
    path = tmp_path / "big.csv"
    row = "someone@acme.example;Søren Ødegård;Tromsø\n"
    with path.open("w", encoding="cp1252", newline="") as handle:
        handle.write("email;name;city\n")
        for _ in range(30 * 1024 * 1024 // len(row)):
            handle.write(row)
    size = path.stat().st_size
    # when it is detected and read row by row
    tracemalloc.start()
    fmt = text_format_detect(source=path)
    with text_open(source=path, fmt=fmt) as handle:
        count = sum(1 for _ in csv.reader(handle, delimiter=fmt.delimiter))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # then every row is read, and at no time was more than a few megabytes (a chunk) in memory
    assert fmt.describe() == "Windows-1252, semicolon-separated"
    assert count == 1 + 30 * 1024 * 1024 // len(row)
    assert size > 30_000_000
    assert peak < 8 * 1024 * 1024
