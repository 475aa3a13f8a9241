"""The fast lane for public form posts: straight to the capture view, past the rest of the stack."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

_FORM_SUBMIT = re.compile(r"/api/capture/forms/(?P<key>[^/]+)/submissions")


class CaptureFastLaneMiddleware:
    """Send `POST /api/capture/forms/{key}/submissions` to its view at once.

    Form posts arrive by the thousand from anonymous browsers and servers, and the view needs none of what
    the other middleware and django-ninja's dispatch do for them (sessions, users, CSRF, messages, HTMX,
    URL resolving, response schemas): skipping them halves the CPU a post costs (docs/benchmarks.md).
    The view itself is the same one the API route declares, so both ways answer alike; only the security
    middleware and the NUL guard run before this one, and the Host check is kept.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from tandem.capture.intake.api import form_submit

        self.get_response = get_response
        self.form_submit = form_submit

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST":
            match = _FORM_SUBMIT.fullmatch(request.path_info)
            if match is not None:
                # As CommonMiddleware would: a Host outside ALLOWED_HOSTS is refused (DisallowedHost, a 400).
                request.get_host()
                return self.form_submit(request, key=match["key"])
        return self.get_response(request)
