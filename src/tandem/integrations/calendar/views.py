"""Pages of calendar feeds: the user's secret address (account area) and the feed itself for calendar apps."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.core.errors import NotFound
from tandem.core.links import absolute_url
from tandem.integrations.calendar import selectors, services


def feed_url(token: str) -> str:
    """The address a calendar app subscribes to."""
    return absolute_url(f"/calendar/{token}.ics")


def _page(request: HttpRequest, *, new_url: str = "") -> HttpResponse:
    user: Any = request.user
    response = render(
        request,
        "integrations/calendar/feed.html",
        {"feed": selectors.calendar_feed_of(user=user), "new_url": new_url},
    )
    # The new address is shown once; no cache may keep it.
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def feed_settings(request: HttpRequest) -> HttpResponse:
    """Your calendar feed: make an address (or a new one in its place) with POST; it is shown once."""
    if request.method == "POST":
        _, token = services.calendar_feed_create(user=request.user, by_user=request.user)
        return _page(request, new_url=feed_url(token))
    return _page(request)


@login_required
@require_POST
def feed_revoke(request: HttpRequest) -> HttpResponse:
    """Revoke your calendar feed address: calendar apps get nothing more from it."""
    if services.calendar_feed_revoke(user=request.user, by_user=request.user):
        messages.success(
            request, "Your calendar feed address is revoked: calendar apps get nothing more from it."
        )
    return redirect("integrations:calendar")


@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """The feed for calendar apps: no session; the secret token names the user (404 when unknown or revoked)."""
    try:
        found = selectors.calendar_feed_by_token(token=token)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    body = selectors.calendar_ics(user=found.user)
    services.calendar_feed_fetched(feed=found)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="tandem.ics"'
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
