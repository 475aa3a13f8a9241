"""What every page and endpoint shares over HTTP: the permission check, id and text types, CSV and ZIP downloads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, BinaryIO, overload

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Path
from pydantic import AfterValidator

from tandem.core import csvsafe
from tandem.core.errors import NotAllowed
from tandem.core.keyset import MAX_ID

# ---- permissions ----


class PermissionRefused(NotAllowed, PermissionDenied):
    """A role lacks the permission for what it asked: 403 `{"detail"}` from the API, the 403 page from a view."""

    # Both parents on purpose: the API's TandemError handler answers it (NotAllowed comes first in the MRO),
    # and Django's own handler renders the 403 page when a view lets it escape.
    status_code = 403


def role_label(user: Any) -> str:
    """The user's role as the refusals name it ("your role" when the user has none)."""
    return str(getattr(user, "get_role_display", lambda: "your role")())


def require_perm(
    who: HttpRequest | Any,
    perm: str | None = None,
    *,
    action: str | None = None,
    allowed: bool | None = None,
    message: str | None = None,
    as_conflict: bool = False,
) -> Any:
    """Return the user behind `who` (a request or a user) if they may act; otherwise refuse, naming what and why."""
    if message is None and action is None:
        raise TypeError("require_perm needs an `action` or a `message` to refuse with")
    user = who.user if isinstance(who, HttpRequest) else who
    # Guards that decide by role rather than by one model permission pass their decision as `allowed`.
    if allowed is None:
        if perm is None:
            raise TypeError("require_perm needs a permission or an `allowed` decision")
        allowed = bool(user.has_perm(perm))
    if allowed:
        return user
    if message is None:
        needs = f" (needs permission {perm})" if perm else ""
        message = f"{role_label(user)} may not {action}{needs}"
    if as_conflict:
        # Services refuse state changes with a plain NotAllowed (409) naming the user, as they always have.
        raise NotAllowed(message, field="user", value=getattr(user, "username", ""))
    raise PermissionRefused(message)


# ---- schema types ----


def no_nul(value: str) -> str:
    """Refuse text that carries a NUL character."""
    # PostgreSQL refuses NUL in text; refusing it here keeps that a 422, not a database error.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(no_nul)

# A row id in the path: beyond a signed 64-bit integer no row can exist, so the answer is a 422, not an overflow.
Id = Annotated[int, Path(ge=1, le=MAX_ID)]


# ---- downloads ----


def csv_stream_response(
    *, filename: str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]
) -> StreamingHttpResponse:
    """A CSV download written while its rows are read (a list of any size), formula-like text neutralised."""

    class _Line:
        # csv writes each row to this, which hands the text back instead of keeping it.
        def write(self, text: str) -> str:
            return text

    def lines() -> Iterable[str]:
        writer = csvsafe.DictWriter(_Line(), fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
        yield writer.writeheader()  # type: ignore[func-returns-value]
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@overload
def csv_response(*, filename: str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> HttpResponse: ...


@overload
def csv_response(*, filename: str, file: BinaryIO) -> FileResponse: ...


def csv_response(
    *,
    filename: str,
    columns: Sequence[str] = (),
    rows: Iterable[Mapping[str, Any]] = (),
    file: BinaryIO | None = None,
) -> HttpResponse | FileResponse:
    """A CSV download: rows written under a header of `columns` (formula-like text neutralised, see core/csvsafe.py),
    or a CSV file already on disk streamed as it is (whoever wrote it wrote it through csvsafe)."""
    if file is not None:
        # A file on disk is streamed (and closed) by FileResponse, which also sets its length.
        return FileResponse(file, as_attachment=True, filename=filename, content_type="text/csv")
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csvsafe.DictWriter(response, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return response


def zip_response(*, data: bytes, filename: str) -> HttpResponse:
    """A .zip archive as a download under `filename`."""
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---- query parameters pages read leniently (a bad value falls back, the page still renders) ----


def param_choice(request: HttpRequest, name: str, choices: Sequence[str], default: str) -> str:
    """The query parameter if it is one of `choices`, else `default`."""
    value = request.GET.get(name, default)
    return value if value in choices else default


def param_date(request: HttpRequest, name: str) -> dt.date | None:
    """The query parameter as a date (YYYY-MM-DD), or None when absent or not a date."""
    try:
        return dt.date.fromisoformat(request.GET.get(name, ""))
    except ValueError:
        return None
