"""The audit log page for admins: events and stage changes, filtered, newest first, with old → new values."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.vary import vary_on_headers

from tandem.core.errors import TandemError, ValidationFailed
from tandem.core.http import require_perm
from tandem.core.keyset import MAX_ID
from tandem.crm.audit import selectors

FILTER_PARAMS = ("person", "record_type", "record_id", "user", "kind", "from", "to")
# Kinds offered as suggestions in the kind box; any kind, or a family such as signin.*, can be typed.
KIND_SUGGESTIONS = (
    selectors.STAGE_KIND,
    "person.*",
    "person.updated",
    "person.owner_assigned",
    "person.merged",
    "deal.*",
    "deal.updated",
    "deal.won",
    "deal.lost",
    "account.updated",
    "activity.*",
    "task.*",
    "user.role_changed",
    "team.calendar_changed",
    "permission.*",
    "signin.*",
)

RECORD_TYPE_SUGGESTIONS = (
    "crm.person",
    "crm.deal",
    "crm.account",
    "crm.activity",
    "crm.task",
    "campaigns.campaign",
    "users.user",
    "users.team",
)


def _zone(user: Any) -> ZoneInfo:
    # Times show in the reader's zone; a zone name the system does not know falls back to UTC, not a 500.
    try:
        return ZoneInfo(str(getattr(user, "time_zone", "") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _day(raw: str, name: str, zone: ZoneInfo) -> dt.datetime | None:
    """The start of a day (YYYY-MM-DD) in the reader's zone."""
    if not raw:
        return None
    try:
        return dt.datetime.combine(dt.date.fromisoformat(raw), dt.time(), tzinfo=zone)
    except ValueError:
        raise ValidationFailed(
            f"{name} must be a day (YYYY-MM-DD), got {raw!r}", field=name, value=raw
        ) from None


def _record_id(raw: str) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise ValidationFailed(f"record id must be a record's id, got {raw!r}", field="record_id", value=raw)
    return int(raw)


def _page_url(filters: dict[str, str], cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = {k: v for k, v in filters.items() if v}
    query["cursor"] = cursor
    return f"{reverse('audit:log')}?{urlencode(query)}"


@login_required
@vary_on_headers("HX-Request")
def audit_log(request: HttpRequest) -> HttpResponse:
    """The audit log: filter by person, record, user, kind and days (in your time zone); admins only."""
    require_perm(
        request, allowed=selectors.audit_allowed(user=request.user), message="Only admins read the audit log."
    )
    filters = {k: request.GET.get(k, "").strip() for k in FILTER_PARAMS}
    zone = _zone(request.user)
    error = None
    try:
        since = _day(filters["from"], "from", zone)
        to = _day(filters["to"], "to", zone)
        page = selectors.audit_page(
            person=filters["person"],
            record_type=filters["record_type"],
            record_id=_record_id(filters["record_id"]),
            user=filters["user"],
            kind=filters["kind"],
            since=since,
            # The "to" day is included: the log ends where the next day starts.
            until=to + dt.timedelta(days=1) if to else None,
            cursor=request.GET.get("cursor", "").strip(),
        )
        selectors.audit_entries_describe(entries=page.items)
    except TandemError as exc:
        page, error = selectors.AuditPage(items=[], next_cursor=None, prev_cursor=None), exc
    context: dict[str, Any] = {
        "page": page,
        "filters": filters,
        "error": error,
        "zone": zone,
        "next_url": _page_url(filters, page.next_cursor),
        "prev_url": _page_url(filters, page.prev_cursor),
        "filtered": any(filters.values()),
    }
    htmx: Any = getattr(request, "htmx", None)
    partial = bool(htmx) and not htmx.history_restore_request
    if not partial:
        context["users"] = selectors.audit_user_options()
        context["kinds"] = KIND_SUGGESTIONS
        context["record_types"] = RECORD_TYPE_SUGGESTIONS
    template = "crm/audit/_results.html" if partial else "crm/audit/log.html"
    return render(request, template, context, status=error.status_code if error else 200)
