"""Files the web process hands to the worker, kept in Django's default storage (docs/operations.md#file-storage).

A web node and a worker on another host share the database and the storage, never a disk: an upload is saved
through `default_storage` (a folder under TANDEM_MEDIA_DIR by default, an S3-compatible bucket when
TANDEM_S3_BUCKET is set) and named by its storage name, never by a local path. Code that wants a path to stream
from (the CSV reader detects the encoding over the whole file) gets the file itself on a local storage and a
temporary copy, streamed down and removed afterwards, on a remote one.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

COPY_CHUNK = 1024 * 1024


def upload_save(*, folder: str, data: bytes, suffix: str) -> str:
    """Store bytes under a generated name in `folder`; returns the storage name (never a user's file name)."""
    wanted = f"{folder}/{uuid.uuid4().hex}{suffix}"
    return str(default_storage.save(wanted, ContentFile(data)))


def upload_replace(*, name: str, data: bytes) -> str:
    """Write new contents under a stored name; returns the name it has now (a local storage keeps it)."""
    default_storage.delete(name)
    return str(default_storage.save(name, ContentFile(data)))


def upload_exists(*, name: str) -> bool:
    """Whether the storage holds `name` (False for an empty name)."""
    return bool(name) and bool(default_storage.exists(name))


def upload_delete(*, name: str) -> None:
    """Remove a stored file; a file already gone is not an error (cleanup runs after failures too)."""
    if not name:
        return
    # S3 answers a missing key with success; a folder on disk raises FileNotFoundError, an OSError.
    with contextlib.suppress(OSError):
        default_storage.delete(name)


def upload_open(*, name: str) -> BinaryIO | None:
    """The stored file opened for reading (a download streams it), or None when there is none."""
    if not upload_exists(name=name):
        return None
    return default_storage.open(name, "rb")  # type: ignore[return-value]  # a File wraps a binary stream


@contextlib.contextmanager
def upload_local_path(*, name: str) -> Iterator[Path]:
    """The stored file as a local path for the block: the file itself on a local storage, else a copy streamed
    into a temporary folder that is removed when the block ends. A missing file raises FileNotFoundError."""
    try:
        local = default_storage.path(name)
    except NotImplementedError:  # a remote storage has no local path
        local = None
    if local is not None:
        path = Path(local)
        if not path.is_file():
            raise FileNotFoundError(f"no stored file {name!r}")
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="tandem-upload-") as folder:
        copy = Path(folder) / Path(name).name
        try:
            with default_storage.open(name, "rb") as source, copy.open("wb") as out:
                shutil.copyfileobj(source, out, COPY_CHUNK)
        except OSError:
            raise
        except Exception as exc:  # a remote storage's own error (boto's ClientError for a missing key)
            raise FileNotFoundError(f"cannot read the stored file {name!r}: {exc}") from exc
        yield copy
