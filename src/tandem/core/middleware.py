"""Request guards that hold for every page and endpoint."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse


def _nul_field(request: HttpRequest) -> tuple[str, str] | None:
    """The first query parameter (or the path) that carries a NUL character, with its value."""
    query = request.META.get("QUERY_STRING", "")
    if "%00" in query or "\x00" in query:
        for name, value in parse_qsl(query, keep_blank_values=True):
            if "\x00" in name or "\x00" in value:
                return name.replace("\x00", ""), value.replace("\x00", "")
    if "\x00" in request.path:  # already percent-decoded by the server
        return "path", request.path.replace("\x00", "")
    return None


class NulGuardMiddleware:
    """Refuse NUL characters in the address: PostgreSQL cannot compare text with them, so a filter
    such as `?source=%00` would otherwise end as a database error (a 500) instead of a clear 4xx.
    Bodies are left to each endpoint: capture journals them as they came, forms and schemas refuse NUL."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        found = _nul_field(request)
        if found is None:
            return self.get_response(request)
        name, value = found
        message = f"{name} must not contain NUL characters"
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message, "field": name, "value": value}, status=422)
        return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
