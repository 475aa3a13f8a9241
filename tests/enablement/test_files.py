"""Upload checks: allowed types by extension AND content, size limit, and stored names that cannot escape."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tandem.core.errors import ValidationFailed
from tandem.enablement import files
from tandem.enablement.models import Asset
from tandem.enablement.services import asset_create

PDF = files.sample_pdf("Case study", ["one line"])
STORED = re.compile(r"^enablement/assets/[0-9a-f]{32}\.(pdf|pptx|docx|xlsx|png|jpg|jpeg|gif|mp4|webm|txt|md|csv)$")


def _office(folder: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(f"{folder}/document.xml", "<x/>")
    return buffer.getvalue()


def _check(name: str, data: bytes, max_bytes: int = 10_000) -> files.CheckedFile:
    return files.upload_check(filename=name, stream=io.BytesIO(data), size=len(data), max_bytes=max_bytes)


@pytest.mark.parametrize(
    ("name", "data", "content_type"),
    [
        ("case.pdf", PDF, "application/pdf"),
        ("Deck.PPTX", _office("ppt"), "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        ("brief.docx", _office("word"), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("logo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "image/png"),
        ("photo.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 20, "image/jpeg"),
        ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 20, "video/mp4"),
        ("card.csv", "They say,We say\nPrice,Value — ünïcode\n".encode(), "text/csv; charset=utf-8"),
    ],
)
def test_allowed_files_pass_when_their_content_matches_their_extension(name, data, content_type):
    # given an allowed file / when checked / then it is accepted with its content type
    checked = _check(name, data)
    assert (checked.content_type, checked.size, checked.original_name) == (content_type, len(data), name)


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("tool.exe", b"MZ\x90\x00", "'.exe' files are not allowed in the content library; allowed types: "),
        ("page.html", b"<script>alert(1)</script>", "'.html' files are not allowed in the content library; allowed types: "),
        ("vector.svg", b"<svg onload=alert(1)>", "'.svg' files are not allowed in the content library; allowed types: "),
        ("README", b"hello", "Files without an extension are not allowed in the content library; allowed types: "),
        ("tool.pdf", b"MZ\x90\x00 not a pdf", "The file 'tool.pdf' is not a PDF document: its content does not match its .pdf extension."),
        ("deck.pptx", _office("word"), "The file 'deck.pptx' is not a PowerPoint deck: its content does not match its .pptx extension."),
        ("brief.docx", PDF, "The file 'brief.docx' is not a Word document: its content does not match its .docx extension."),
        ("notes.txt", b"abc\x00def", "The file 'notes.txt' is not a UTF-8 text file: its content does not match its .txt extension."),
        ("empty.pdf", b"", "The file 'empty.pdf' is empty."),
    ],
)
def test_wrong_types_and_content_are_refused_with_a_clear_message(name, data, message):
    # given a file that is not what it claims / when checked / then the message names the problem
    with pytest.raises(ValidationFailed) as caught:
        _check(name, data)
    assert caught.value.message.startswith(message)
    assert caught.value.field == "file"


def test_an_oversize_file_is_refused_naming_both_sizes():
    # given a 3 MiB PDF and a 2 MiB limit
    data = PDF + b"%" * (3 * 1024 * 1024 - len(PDF))
    # when checked / then refused with both sizes
    with pytest.raises(ValidationFailed) as caught:
        _check("big.pdf", data, max_bytes=2 * 1024 * 1024)
    assert caught.value.message == "The file 'big.pdf' is 3.0 MB; the largest file allowed is 2.0 MB."


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("/etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Windows\\system32\\evil.pdf", "evil.pdf"),
        ("report\x00.exe.pdf", "report.exe.pdf"),
        ("..", "file"),
        ("résumé  ünïcode 📄.pdf", "résumé  ünïcode 📄.pdf"),
        ("line\nbreak\r.pdf", "linebreak.pdf"),
    ],
)
def test_display_names_keep_only_the_last_component_without_control_characters(raw, shown):
    # given a hostile or unusual name / when cleaned / then only a harmless name remains
    assert files.display_name(raw) == shown


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    ["../../etc/passwd.pdf", "/etc/passwd.pdf", "..\\..\\boot.pdf", "nul\x00byte.pdf", "ünïcode/../../x.pdf", "%2e%2e%2fx.pdf", "a" * 400 + ".pdf"],
)
def test_stored_files_land_inside_the_upload_folder_under_a_generated_name(raw, settings):
    # given an upload whose name tries to escape
    media = Path(settings.MEDIA_ROOT)
    upload = SimpleUploadedFile("x.pdf", PDF)
    upload.name = raw  # set after construction: Django's own cleaning must not be what protects us
    # when it is added to the library
    asset = asset_create(title="Escape?", kind="brochure", upload=upload)
    # then the stored name is generated, the file sits inside the media folder, and nothing else was written
    assert STORED.match(asset.file)
    path = (media / asset.file).resolve()
    assert path.is_relative_to(media.resolve()) and path.read_bytes() == PDF
    assert [p for p in media.rglob("*") if p.is_file()] == [path]
    assert "/" not in asset.original_name and "\\" not in asset.original_name and "\x00" not in asset.original_name


@hsettings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.sampled_from(files.ALLOWED_EXTENSIONS))
def test_no_name_can_shape_the_stored_path(raw, extension):
    # given any name / when a checked file of an allowed type gets its stored name / then it is the fixed pattern
    name = files.stored_name(extension=extension)
    assert STORED.match(name)
    shown = files.display_name(raw)
    assert shown and "/" not in shown and "\\" not in shown and "\x00" not in shown and len(shown) <= 200


@pytest.mark.django_db
def test_a_refused_upload_leaves_no_asset_and_no_file(settings):
    # given an executable named like a PDF
    upload = SimpleUploadedFile("tool.pdf", b"MZ\x90\x00 executable")
    # when it is added / then it is refused and nothing is stored
    with pytest.raises(ValidationFailed):
        asset_create(title="Tool", kind="brochure", upload=upload)
    assert Asset.objects.count() == 0
    assert [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()] == []
