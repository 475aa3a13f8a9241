"""`GET /api/audit/events`: the audit log for admins, filtered and paged as on the page (403 for anyone else)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from tandem.core.apiversion import api_deprecated_use
from tandem.core.errors import ValidationFailed
from tandem.core.http import NoNul, require_perm
from tandem.core.keyset import MAX_ID
from tandem.crm.audit import selectors

router = Router(tags=["audit"])


class AuditDetailOut(Schema):
    detail: str
    field: str | None = None
    value: str | None = None


class AuditChangeOut(Schema):
    field: str = Field(..., description="the field that changed")
    old: Any = Field(None, description="its value before, as stored (ids stay ids)")
    new: Any = Field(None, description="its value after")


class AuditEventOut(Schema):
    id: int = Field(..., description="the row's id in its source")
    source: str = Field(
        ..., description="`event` (the event log) or `stage_change` (a person's lifecycle stage history)"
    )
    occurred_at: dt.datetime
    kind: str = Field(..., description="e.g. person.updated, deal.won, person.stage_changed, signin.failed")
    actor_id: int | None = Field(
        None, description="the user who acted; null for the system, an import or a rule"
    )
    actor: str | None = Field(None, alias="actor_username", description="that user's username")
    subject_type: str = Field(..., description="the record's type, e.g. crm.person, crm.deal")
    subject_id: int | None
    rule: str = Field(..., description="the rule that acted, e.g. definition:mql, sla")
    rule_version: int | None
    reason: str
    changes: list[AuditChangeOut] = Field(..., description="the old and new value of each field it changed")
    notes: list[str] = Field(
        ..., description="changes the event states in words (a definition's new version)"
    )
    data: dict[str, Any] = Field(..., description="everything the event recorded")


class AuditPageOut(Schema):
    items: list[AuditEventOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


class AuditQuery(Schema):
    person: Annotated[str, Field(max_length=254), NoNul] = Field(
        "",
        description="a person's id or e-mail: events about them (as subject, named in the data, or about their "
        "deals, activities and tasks, and people merged into them) and their stage changes",
    )
    record_type: Annotated[str, Field(max_length=64), NoNul] = Field("", description="e.g. crm.deal")
    record_id: int | None = Field(None, ge=1, le=MAX_ID, description="with record_type: one record")
    user: Annotated[str, Field(max_length=150), NoNul] = Field(
        "", description="who acted: a user id or username"
    )
    kind: Annotated[str, Field(max_length=64), NoNul] = Field(
        "", description="one kind (deal.won) or a family (signin.*)"
    )
    # `from` and `to`, as the audit page names them; `since` and `until` are the deprecated names of before.
    from_: dt.datetime | None = Field(
        None, alias="from", description="from this day or moment on (inclusive; without a zone, UTC)"
    )
    to: Annotated[str, Field(max_length=40), NoNul] = Field(
        "",
        description="up to and including this day (`2026-03-05`), or before this moment "
        "(`2026-03-05T12:00:00Z`, exclusive); without a zone, UTC",
    )
    since: dt.datetime | None = Field(
        None, json_schema_extra={"deprecated": True}, description="Deprecated: use `from`."
    )
    until: dt.datetime | None = Field(
        None, json_schema_extra={"deprecated": True}, description="Deprecated: use `to`."
    )
    cursor: Annotated[str, Field(max_length=2000), NoNul] = ""
    limit: int = Field(selectors.PAGE_SIZE, ge=1, le=selectors.MAX_PAGE_SIZE)


@router.get(
    "/audit/events",
    response={200: AuditPageOut, 401: AuditDetailOut, 403: AuditDetailOut, 422: AuditDetailOut},
    summary="The audit log (admins)",
)
def audit_events(request: HttpRequest, filters: Query[AuditQuery]) -> Any:
    """Who changed what, when, why and under which rule, with the old and new values, newest first (admins only).

    The same filters as the audit page; a bad value answers 422 naming the field. Others get 403 before any
    filter is read, so an e-mail's existence is not told to them either."""
    require_perm(
        request, allowed=selectors.audit_allowed(user=request.user), message="Only admins read the audit log."
    )
    values = filters.dict()
    since, until = values.pop("since"), values.pop("until")
    values_to = values.pop("to")
    start, end = values.pop("from_"), _to_moment(values_to)
    for old, new, old_value, new_value in (("since", "from", since, start), ("until", "to", until, end)):
        if old_value is None:
            continue
        api_deprecated_use(request, name=old)
        if new_value is not None:
            raise ValidationFailed(f"give {new} or {old} (its old name), not both", field=old, value=old_value)
    start, end = start or since, end or until
    if start and start.tzinfo is None:  # without a zone, UTC (as the selector reads it)
        start = start.replace(tzinfo=dt.UTC)
    if until is None and start and end and end <= start:
        raise ValidationFailed(
            f"to ({end.isoformat()}) must be after from ({start.isoformat()})", field="to", value=values_to
        )
    return selectors.audit_page(**values, since=start, until=end)


def _to_moment(text: str) -> dt.datetime | None:
    # A day is included whole (the page's "to"); a moment is where the log stops.
    if not text:
        return None
    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text) + dt.timedelta(days=1), dt.time(), dt.UTC)
        moment = dt.datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ValidationFailed(f"to {text!r} is not an ISO date or date-time", field="to", value=text) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
