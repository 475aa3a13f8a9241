"""Reading delimited text files as people save them: the encoding and the delimiter are detected, not assumed.

Excel on Windows saves "CSV" in the machine's code page (Windows-1252 in Western Europe and the Americas),
"Unicode text" as tab-separated UTF-16, and in much of Europe separates cells with semicolons. One reader for
every upload: strict UTF-8 first (with or without a byte-order mark), UTF-16 by its byte-order mark, and only
when neither holds a single-byte code page guessed by charset-normalizer (Windows-1252 preferred on a tie);
then the delimiter among comma, semicolon and tab. The file is streamed: a 100 MB upload is decoded chunk by
chunk while rows are read, never held twice as text.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TextIO

from tandem.core.errors import ValidationFailed

SAMPLE_BYTES = 64 * 1024
CHUNK_BYTES = 1024 * 1024
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab"}
# The single-byte code pages charset-normalizer may choose among: Western, Central and Eastern European,
# Greek, Turkish, Baltic, plus their ISO twins. CJK multi-byte guesses on a short sample are nearly always
# wrong for a list of names (a Windows-1252 "Åsa Ødegård" reads as Chinese), so they are not offered.
_CANDIDATES = (
    "cp1252",
    "latin_1",
    "iso8859_15",
    "cp1250",
    "iso8859_2",
    "cp1251",
    "koi8_r",
    "cp1253",
    "cp1254",
    "cp1257",
    "mac_roman",
    "cp850",
)
_NAMES = {
    "utf_8": "UTF-8",
    "utf_8_sig": "UTF-8 with BOM",
    "utf_16": "UTF-16",
    "utf_16_le": "UTF-16 LE",
    "utf_16_be": "UTF-16 BE",
    "cp1252": "Windows-1252",
    "latin_1": "Latin-1 (ISO-8859-1)",
    "iso8859_15": "Latin-9 (ISO-8859-15)",
    "cp1250": "Windows-1250",
    "iso8859_2": "Latin-2 (ISO-8859-2)",
    "cp1251": "Windows-1251",
    "koi8_r": "KOI8-R",
    "cp1253": "Windows-1253",
    "cp1254": "Windows-1254",
    "cp1257": "Windows-1257",
    "mac_roman": "Mac Roman",
    "cp850": "DOS Latin-1 (CP850)",
}

Source = bytes | Path


class TextUnreadable(ValidationFailed):
    """A file that starts with a byte-order mark (or the NULs of UTF-16) but does not decode as it says."""

    def __init__(self, message: str, *, line: int, byte: str) -> None:
        super().__init__(message, field="file", value=byte)
        self.line = line
        self.byte = byte


@dataclass(frozen=True)
class TextFormat:
    """What a file was found to be: the codec to read it with, its name for people, and its delimiter."""

    encoding: str  # a Python codec; a BOM-aware one (utf-8-sig, utf-16) when the file starts with a BOM
    name: str  # "UTF-8", "UTF-16 LE", "Windows-1252"...
    delimiter: str = ","
    columns: int = 0  # in the first line, as the delimiter splits it

    @property
    def delimiter_name(self) -> str:
        return DELIMITERS.get(self.delimiter, repr(self.delimiter))

    def describe(self) -> str:
        """'Windows-1252, semicolon-separated' (a one-column file has no separator to speak of)."""
        if self.columns == 1:
            return f"{self.name}, one column"
        return f"{self.name}, {self.delimiter_name}-separated"


def _codec(name: str) -> str:
    return codecs.lookup(name).name.replace("-", "_")


def _head(source: Source, size: int) -> bytes:
    if isinstance(source, Path):
        with source.open("rb") as handle:
            return handle.read(size)
    return bytes(source[:size])


def _chunks(source: Source) -> Iterator[bytes]:
    if isinstance(source, Path):
        with source.open("rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk
    else:
        view = memoryview(source)
        for start in range(0, len(view), CHUNK_BYTES):
            yield bytes(view[start : start + CHUNK_BYTES])


def _decodes(source: Source, encoding: str) -> tuple[bool, int]:
    """Whether the whole source decodes with `encoding` (streamed), and else the offset of the first bad byte."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    offset = pending = 0
    try:
        for chunk in _chunks(source):
            pending = len(decoder.getstate()[0])  # bytes of a character cut by the previous chunk
            decoder.decode(chunk, final=False)
            offset += len(chunk)
        pending = len(decoder.getstate()[0])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return False, max(0, offset - pending + exc.start)
    return True, -1


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text without a byte-order mark shows as NUL bytes at every other position (for Latin text)."""
    pairs = head[: len(head) - len(head) % 2]
    if len(pairs) < 4:
        return None
    even, odd = pairs[0::2].count(0), pairs[1::2].count(0)
    half = len(pairs) // 2
    if odd > 0.4 * half and even < 0.05 * half:
        return "utf_16_le"
    if even > 0.4 * half and odd < 0.05 * half:
        return "utf_16_be"
    return None


def _non_ascii_lines(source: Source) -> bytes:
    """Up to SAMPLE_BYTES of the lines holding a byte above 127: what tells one code page from another (a
    sample of ASCII rows with one accented name at the end gives charset-normalizer nothing to go on)."""
    out: list[bytes] = []
    size = 0
    rest = b""
    for chunk in _chunks(source):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            if not line.isascii():
                out.append(line)
                size += len(line) + 1
                if size >= SAMPLE_BYTES:
                    return b"\n".join(out)
    if rest and not rest.isascii():
        out.append(rest)
    return b"\n".join(out)


def _single_byte(source: Source) -> str:
    """The code page of a file that is not UTF-8: charset-normalizer's guess on its non-ASCII lines,
    Windows-1252 when it ties with the guess, Latin-1 when nothing else decodes."""
    from charset_normalizer import from_bytes

    sample = _non_ascii_lines(source)
    matches = from_bytes(sample, cp_isolation=list(_CANDIDATES))
    best = matches.best()
    chosen = "cp1252"
    if best is not None:
        tied = [
            m
            for m in matches
            if abs(m.chaos - best.chaos) < 1e-9 and abs(m.coherence - best.coherence) < 1e-9
        ]
        could_be = {_codec(c) for m in tied for c in m.could_be_from_charset}
        # Ties are common on short files: "José Müller" is the same bytes in Windows-1250, -1252 and -1257.
        # Windows-1252 is what Excel writes in most of the places such a tie comes from.
        chosen = "cp1252" if "cp1252" in could_be else _codec(best.encoding)
    for encoding in (chosen, "cp1252"):
        if _decodes(source, encoding)[0]:
            return encoding
    return "latin_1"  # decodes any byte


def encoding_detect(source: Source) -> tuple[str, str]:
    """(codec, name) of a file: UTF-8 (BOM or not) when all of it is UTF-8, UTF-16 by its BOM (or its NULs),
    else a single-byte code page."""
    head = _head(source, SAMPLE_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        encoding, name = "utf_8_sig", "UTF-8 with BOM"
    elif head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        # "utf-16" reads the BOM and the byte order from it, and drops the BOM from the text.
        encoding = "utf_16"
        name = "UTF-16 LE" if head.startswith(codecs.BOM_UTF16_LE) else "UTF-16 BE"
    else:
        found = _utf16_without_bom(head)
        if found is not None:
            encoding, name = found, _NAMES[found]
        else:
            if _decodes(source, "utf_8")[0]:
                return "utf_8", "UTF-8"
            encoding = _single_byte(source)
            return encoding, _NAMES.get(encoding, encoding)
    ok, bad_at = _decodes(source, encoding)
    if not ok:
        before = _head(source, bad_at + 1)
        # Lines are counted in the file's own encoding: a UTF-16 newline is two bytes.
        newline = {"UTF-16 LE": "\n".encode("utf_16_le"), "UTF-16 BE": "\n".encode("utf_16_be")}.get(
            name, b"\n"
        )
        line = before[:bad_at].count(newline) + 1
        byte = before[-1:].hex()
        raise TextUnreadable(
            f"the file starts like {name} text but is not (byte 0x{byte})", line=line, byte=byte
        )
    return encoding, name


def _delimiter(sample: str) -> tuple[str, int]:
    """The delimiter of a text sample (csv.Sniffer among comma, semicolon and tab; else the one the first line
    holds most of, comma when none) and how many columns it gives the first line."""
    lines = sample.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if len(lines) > 1 and not sample.endswith(("\n", "\r")):
        sample = "\n".join(lines[:-1])  # a sample cut mid-row would mislead the sniffer
    delimiter = ""
    with contextlib.suppress(csv.Error):
        delimiter = csv.Sniffer().sniff(sample, delimiters="".join(DELIMITERS)).delimiter
    counts = {d: first.count(d) for d in DELIMITERS}
    if delimiter not in DELIMITERS or counts[delimiter] == 0:
        # The sniffer is fooled by quoted cells and one-row files; the header is what a person would look at.
        delimiter = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    columns = len(next(csv.reader([first], delimiter=delimiter), [])) if first else 0
    return delimiter, columns


def text_format_detect(*, source: Source) -> TextFormat:
    """The encoding and the delimiter of a delimited text file (bytes in memory or a path)."""
    encoding, name = encoding_detect(source)
    decoder = codecs.getincrementaldecoder(encoding)("replace")
    sample = decoder.decode(_head(source, SAMPLE_BYTES), final=False)
    delimiter, columns = _delimiter(sample)
    return TextFormat(encoding=encoding, name=name, delimiter=delimiter, columns=columns)


def text_open(*, source: Source, fmt: TextFormat) -> TextIO:
    """The file as a text stream in its detected encoding (newline='' as the csv module wants)."""
    raw: BinaryIO = source.open("rb") if isinstance(source, Path) else io.BytesIO(source)
    return io.TextIOWrapper(raw, encoding=fmt.encoding, newline="")


def text_read(*, source: Source) -> tuple[str, TextFormat]:
    """The whole text of a small file and its format (for files that are read whole anyway)."""
    fmt = text_format_detect(source=source)
    with text_open(source=source, fmt=fmt) as handle:
        return handle.read(), fmt
