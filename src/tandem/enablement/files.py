"""Checks on uploaded files and the names they are stored under (pure Python, no Django ORM).

Decisions:
- A file is accepted when its extension is on the allow-list AND its content looks like that kind of file
  (magic bytes; for Office files the zip members that make them a deck, document or workbook; for text, valid
  UTF-8 without NUL bytes). Renaming `tool.exe` to `tool.pdf` is therefore refused, and so is a PDF renamed
  to `.docx`.
- The name a file is stored under is generated, never taken from the upload: a random hex id plus the
  checked, lower-cased extension, in a fixed folder. Nothing a user types (`../../etc/passwd`, `C:\\x`, a NUL
  byte, unicode look-alikes) can reach the path.
- The original name is kept only for display and for the download's Content-Disposition, cleaned first:
  the last path component (after either slash), control characters and NULs removed, NFC normalised, at most
  200 characters.
"""

from __future__ import annotations

import io
import secrets
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from tandem.core.errors import ValidationFailed

UPLOAD_FOLDER = "enablement/assets"
HEAD_BYTES = 64 * 1024
MAX_NAME_CHARS = 200


def _zip_members(stream: BinaryIO) -> set[str]:
    try:
        stream.seek(0)
        with zipfile.ZipFile(stream) as archive:
            return set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return set()
    finally:
        stream.seek(0)


def _office(folder: str) -> Callable[[bytes, BinaryIO], bool]:
    def sniff(head: bytes, stream: BinaryIO) -> bool:
        if not head.startswith(b"PK\x03\x04"):
            return False
        names = _zip_members(stream)
        return "[Content_Types].xml" in names and any(n.startswith(folder) for n in names)

    return sniff


def _text(head: bytes, stream: BinaryIO) -> bool:
    if b"\x00" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # The head may end inside a multi-byte character; only an error near the cut is forgiven.
        return len(head) == HEAD_BYTES and exc.start >= len(head) - 3
    return True


def _starts(*prefixes: bytes) -> Callable[[bytes, BinaryIO], bool]:
    return lambda head, stream: head.startswith(prefixes)


@dataclass(frozen=True)
class FileKind:
    extension: str
    content_type: str
    label: str
    sniff: Callable[[bytes, BinaryIO], bool]


_KINDS = (
    FileKind("pdf", "application/pdf", "a PDF document", lambda head, stream: b"%PDF-" in head[:1024]),
    FileKind(
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "a PowerPoint deck",
        _office("ppt/"),
    ),
    FileKind(
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "a Word document",
        _office("word/"),
    ),
    FileKind(
        "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "an Excel workbook", _office("xl/")
    ),
    FileKind("png", "image/png", "a PNG image", _starts(b"\x89PNG\r\n\x1a\n")),
    FileKind("jpg", "image/jpeg", "a JPEG image", _starts(b"\xff\xd8\xff")),
    FileKind("jpeg", "image/jpeg", "a JPEG image", _starts(b"\xff\xd8\xff")),
    FileKind("gif", "image/gif", "a GIF image", _starts(b"GIF87a", b"GIF89a")),
    FileKind("mp4", "video/mp4", "an MP4 video", lambda head, stream: head[4:8] == b"ftyp"),
    FileKind("webm", "video/webm", "a WebM video", _starts(b"\x1a\x45\xdf\xa3")),
    FileKind("txt", "text/plain; charset=utf-8", "a UTF-8 text file", _text),
    FileKind("md", "text/markdown; charset=utf-8", "a UTF-8 text file", _text),
    FileKind("csv", "text/csv; charset=utf-8", "a UTF-8 text file", _text),
)
KINDS: dict[str, FileKind] = {k.extension: k for k in _KINDS}
ALLOWED_EXTENSIONS: tuple[str, ...] = tuple(KINDS)


def display_name(raw: str) -> str:
    """The uploaded name made safe to show and to offer as a download name (never used as a path)."""
    name = unicodedata.normalize("NFC", str(raw or ""))
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.strip().strip(".").strip()
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        keep = MAX_NAME_CHARS - len(ext) - 1 if dot and len(ext) <= 10 else MAX_NAME_CHARS
        name = (stem[:keep] + "." + ext) if dot and len(ext) <= 10 else name[:MAX_NAME_CHARS]
    return name or "file"


def extension_of(raw: str) -> str:
    """The lower-cased extension of the cleaned name ('' when there is none)."""
    name = display_name(raw)
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


@dataclass(frozen=True)
class CheckedFile:
    extension: str
    content_type: str
    original_name: str
    size: int


def upload_check(*, filename: str, stream: BinaryIO, size: int, max_bytes: int) -> CheckedFile:
    """Accept the upload or raise ValidationFailed naming what is wrong (type, content or size)."""
    original = display_name(filename)
    if size <= 0:
        raise ValidationFailed(f"The file '{original}' is empty.", field="file", value=original)
    if size > max_bytes:
        raise ValidationFailed(
            f"The file '{original}' is {_megabytes(size)}; the largest file allowed is {_megabytes(max_bytes)}.",
            field="file",
            value=original,
        )
    ext = extension_of(filename)
    kind = KINDS.get(ext)
    if kind is None:
        allowed = ", ".join(f".{e}" for e in ALLOWED_EXTENSIONS)
        shown = f"'.{ext}' files" if ext else "Files without an extension"
        raise ValidationFailed(
            f"{shown} are not allowed in the content library; allowed types: {allowed}.",
            field="file",
            value=original,
        )
    stream.seek(0)
    head = stream.read(HEAD_BYTES)
    stream.seek(0)
    if not kind.sniff(head, stream):
        raise ValidationFailed(
            f"The file '{original}' is not {kind.label}: its content does not match its .{ext} extension.",
            field="file",
            value=original,
        )
    return CheckedFile(extension=ext, content_type=kind.content_type, original_name=original, size=size)


def stored_name(*, extension: str, token: str | None = None) -> str:
    """A generated relative path for a checked file: '<folder>/<32 hex>.<ext>', nothing from the user."""
    if extension not in KINDS:
        raise ValidationFailed("Unknown file extension.", field="file", value=extension)
    token = token or secrets.token_hex(16)
    if len(token) != 32 or any(c not in "0123456789abcdef" for c in token):
        raise ValidationFailed("A stored name's token is 32 lower-case hex digits.", field="token", value=token)
    return f"{UPLOAD_FOLDER}/{token}.{extension}"


def content_type_of(stored: str) -> str:
    """The content type to serve a stored file with (from its generated extension)."""
    kind = KINDS.get(stored.rpartition(".")[2])
    return kind.content_type if kind else "application/octet-stream"


def sample_pdf(title: str, lines: list[str]) -> bytes:
    """A tiny valid one-page PDF with a title and a few lines (the demo's generated files)."""
    def esc(text: str) -> str:
        ascii_text = text.encode("ascii", "replace").decode("ascii")
        return ascii_text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    body = ["BT /F1 20 Tf 56 760 Td (" + esc(title) + ") Tj ET"]
    for i, line in enumerate(lines):
        body.append(f"BT /F1 12 Tf 56 {720 - 20 * i} Td (" + esc(line) + ") Tj ET")
    stream = "\n".join(body).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + obj + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()
