"""The API's version policy in code (docs/api.md#versions): every answer under /api/ says its version, and a request
that uses a deprecated name is told so with the `Deprecation` header (RFC 9745) and a link to the docs.

- `/api/` is version 1; within it, changes are additive only (new operations, optional parameters, response
  fields). A change that would break a client goes to `/api/v2/`, served next to v1.
- A name replaced within v1 (a filter renamed to match the pages) keeps working for v1's life, is marked
  `deprecated` in the OpenAPI document, and each use answers `Deprecation: @<when it was deprecated>` and
  `Link: </api/docs>; rel="deprecation"`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from django.http import HttpRequest, HttpResponse
from ninja import Query

from tandem.core.errors import ValidationFailed

API_VERSION = "1"
VERSION_HEADER = "API-Version"
# When the names deprecated so far were deprecated (the release that renamed the filters to the pages' names).
DEPRECATED_ON = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
DEPRECATION_DOCS = "/api/docs"
_USED = "_tandem_deprecated_used"


def api_deprecated_use(request: HttpRequest, *, name: str) -> None:
    """Note that this request used the deprecated `name`: its answer will carry the Deprecation header."""
    request.__dict__.setdefault(_USED, []).append(name)


# A date range as the report pages name it (`from`, `to`), with the API's former names kept as deprecated aliases.
FromParam = Annotated[dt.date | None, Query(alias="from", description="the first day (as the page's `from`)")]
ToParam = Annotated[dt.date | None, Query(description="the last day (as the page's `to`)")]
DateFromParam = Annotated[dt.date | None, Query(deprecated=True, description="Deprecated: use `from`.")]
DateToParam = Annotated[dt.date | None, Query(deprecated=True, description="Deprecated: use `to`.")]


def date_range_pick(
    request: HttpRequest,
    *,
    from_: dt.date | None,
    to: dt.date | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> tuple[dt.date | None, dt.date | None]:
    """The range asked for by `from`/`to` or their deprecated names (noted for the Deprecation header)."""
    picked = []
    for new, old, new_value, old_value in (
        ("from", "date_from", from_, date_from),
        ("to", "date_to", to, date_to),
    ):
        if old_value is not None:
            api_deprecated_use(request, name=old)
            if new_value is not None:
                raise ValidationFailed(
                    f"give {new} or {old} (its old name), not both", field=old, value=old_value
                )
        picked.append(new_value if new_value is not None else old_value)
    return picked[0], picked[1]


class ApiVersionMiddleware:
    """Adds `API-Version` to every answer under /api/, and `Deprecation` + `Link` when a deprecated name was used."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if request.path_info.startswith("/api/"):
            response[VERSION_HEADER] = API_VERSION
            if request.__dict__.get(_USED):
                response["Deprecation"] = f"@{int(DEPRECATED_ON.timestamp())}"
                response["Link"] = f'<{DEPRECATION_DOCS}>; rel="deprecation"'
        return response
