"""Reads for the collateral board, a rep's own requests, lead times by type and repeat requests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone

from tandem.core.erasure import rows_plain
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.paging import PAGE_SIZE, KeysetPage, keyset_page
from tandem.crm.models import Account, Deal
from tandem.enablement.requests import board
from tandem.enablement.requests.models import CollateralRequest, RequestKind
from tandem.users.access import access_filter, access_q

# Closed cards stay on the board this long, so the last columns do not grow forever.
CLOSED_SHOWN_DAYS = 30
SUGGESTION_WINDOW_DAYS = 365
SUGGESTION_MAX_REQUESTS = 2000
ANSWER_ASSETS_MAX = 500


@dataclass(frozen=True)
class Card:
    request: CollateralRequest
    due: str
    moves: list[tuple[str, str]]


def _card(request: CollateralRequest, today: dt.date) -> Card:
    return Card(
        request=request,
        due=board.due_status(status=request.status, due_on=request.due_on, today=today),
        moves=list(board.TRANSITIONS.get(request.status, {}).items()),
    )


def _with_relations() -> Any:
    return CollateralRequest.objects.select_related("requested_by", "assignee", "deal", "account")


def _seen(rows: Any, user: Any) -> Any:
    """The requests `user` may see (all when user is None, an internal read): those they filed, and those whose
    deal and account (when it names them) they may see (tandem.users.access), so a request does not show another
    team's deal."""
    if user is None or (access_q(Deal, user=user) is None and access_q(Account, user=user) is None):
        return rows
    deals = Q(deal__isnull=True) | Q(deal__in=access_filter(Deal.objects.all(), user=user).values("pk"))
    accounts = Q(account__isnull=True) | Q(account__in=access_filter(Account.objects.all(), user=user).values("pk"))
    return rows.filter(Q(requested_by=user) | (deals & accounts))


def collateral_board(*, today: dt.date | None = None, user: Any = None) -> dict[str, list[Card]]:
    """The board's columns in order: open requests, and requests closed in the last 30 days (those `user` may see)."""
    today = today or timezone.localdate()
    since = timezone.now() - dt.timedelta(days=CLOSED_SHOWN_DAYS)
    rows = _seen(_with_relations(), user).filter(Q(status__in=board.OPEN) | Q(status_changed_at__gte=since))
    rows = rows.order_by("due_on", "id")
    columns: dict[str, list[Card]] = {status: [] for status in board.COLUMNS}
    for row in rows:
        columns[row.status].append(_card(row, today))
    return columns


def collateral_requests_of(*, user: Any, today: dt.date | None = None, limit: int = 200) -> list[Card]:
    """A rep's own requests, open ones first, soonest due first."""
    today = today or timezone.localdate()
    rows = _with_relations().filter(requested_by=user).order_by("due_on", "id")[:limit]
    cards = [_card(r, today) for r in rows]
    return sorted(cards, key=lambda c: (c.request.status not in board.OPEN, c.request.due_on, c.request.pk))


def _requests_filtered(*, status: str, kind: str, requested_by_id: int | None, user: Any) -> Any:
    """The requests `user` may see with the list's filters; unknown status and type values are refused by name."""
    from tandem.enablement.requests.models import RequestStatus

    if status and status not in RequestStatus.values:
        raise ValidationFailed(f"unknown status {status[:20]!r}", field="status", value=status[:20])
    if kind and kind not in RequestKind.values:
        raise ValidationFailed(f"unknown request type {kind[:20]!r}", field="type", value=kind[:20])
    rows = _seen(_with_relations(), user)
    if status:
        rows = rows.filter(status=status)
    if kind:
        rows = rows.filter(kind=kind)
    if requested_by_id is not None:
        rows = rows.filter(requested_by_id=requested_by_id)
    return rows


def collateral_requests_list(
    *,
    status: str = "",
    kind: str = "",
    requested_by_id: int | None = None,
    user: Any = None,
    limit: int = 200,
    today: dt.date | None = None,
) -> list[Card]:
    """Requests filtered by status, type and requester, soonest due first (those `user` may see, when given)."""
    today = today or timezone.localdate()
    rows = _requests_filtered(status=status, kind=kind, requested_by_id=requested_by_id, user=user)
    return [_card(r, today) for r in rows.order_by("due_on", "id")[:limit]]


def collateral_requests_page(
    *,
    status: str = "",
    kind: str = "",
    requested_by_id: int | None = None,
    user: Any = None,
    cursor: str = "",
    limit: int = PAGE_SIZE,
    today: dt.date | None = None,
) -> KeysetPage:
    """A keyset page of requests as cards, soonest due first, filtered as collateral_requests_list filters."""
    today = today or timezone.localdate()
    rows = _requests_filtered(status=status, kind=kind, requested_by_id=requested_by_id, user=user)
    page = keyset_page(queryset=rows, order="due-soonest", field="due_on", descending=False, cursor=cursor, limit=limit)
    return KeysetPage(
        items=[_card(r, today) for r in page.items], next_cursor=page.next_cursor, prev_cursor=page.prev_cursor
    )


def collateral_request_get(*, request_id: int, user: Any = None) -> CollateralRequest:
    """One request with its people, deal and account (one `user` may see, when given), or a 404 naming the id."""
    found = _seen(_with_relations(), user).filter(pk=request_id).first()
    if found is None:
        raise NotFound(f"no collateral request has id {request_id}", field="request_id", value=request_id)
    return found


def collateral_request_card(*, request_id: int, today: dt.date | None = None) -> Card:
    """One request as a board card: its due-date warning and the moves it allows."""
    return _card(collateral_request_get(request_id=request_id), today or timezone.localdate())


def collateral_request_history(*, request: CollateralRequest) -> list[Any]:
    """The request's events, oldest first: filed, then every move with who, when and why."""
    from tandem.core.models import Event

    return list(
        Event.objects.filter(subject_type="collateral.collateralrequest", subject_id=request.pk)
        .select_related("actor")
        .order_by("occurred_at", "id")
    )


def collateral_lead_times(*, since: dt.datetime | None = None) -> list[board.LeadTime]:
    """Days from request to delivery by type, over delivered requests (filed since `since`, if given)."""
    rows = CollateralRequest.objects.filter(status="delivered", delivered_at__isnull=False)
    if since is not None:
        rows = rows.filter(created_at__gte=since)
    durations = [
        (kind, (delivered - created).total_seconds() / 86400)
        for kind, created, delivered in rows.values_list("kind", "created_at", "delivered_at")
        if delivered is not None
    ]
    return board.lead_times(durations=durations)


def collateral_lead_time_by_kind(*, since: dt.datetime | None = None) -> dict[str, board.LeadTime]:
    """Lead times keyed by request type."""
    return {lt.kind: lt for lt in collateral_lead_times(since=since)}


def collateral_suggestions(*, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Requests not yet handled that keep coming back (same type, similar purpose, several reps) as library suggestions."""
    from tandem.users.models import User

    now = now or timezone.now()
    rows = (
        # Handled requests are left out, so a handled suggestion returns only when new requests repeat it.
        CollateralRequest.objects.filter(
            created_at__gte=now - dt.timedelta(days=SUGGESTION_WINDOW_DAYS), suggestion_handled_at__isnull=True
        )
        .order_by("-created_at", "-id")
        .values_list("id", "kind", "purpose", "requested_by_id", "created_at")[:SUGGESTION_MAX_REQUESTS]
    )
    texts = [board.RequestText(id=i, kind=k, purpose=p, requester_id=r, requested_at=c) for i, k, p, r, c in rows]
    found = board.repeats_find(requests=texts)
    rep_ids = {r for s in found for r in s.requester_ids}
    names = {u.pk: str(u) for u in User.objects.filter(pk__in=rep_ids)} if rep_ids else {}
    labels = dict(RequestKind.choices)
    return [
        {
            "kind": s.kind,
            "kind_label": labels.get(s.kind, s.kind),
            "label": s.label,
            "n_requests": s.n_requests,
            "n_reps": s.n_reps,
            "reps": [names.get(r, str(r)) for r in s.requester_ids],
            "request_ids": s.request_ids,
            "examples": s.examples,
            "last_requested_at": s.last_requested_at,
        }
        for s in found
    ]


def collateral_answer_assets(*, today: dt.date | None = None, limit: int = ANSWER_ASSETS_MAX) -> list[tuple[int, str]]:
    """Current library assets (id, title), by title, that marketing may name as answering a suggestion."""
    from tandem.enablement.models import Asset

    today = today or timezone.localdate()
    rows = Asset.objects.filter(Q(expires_on__isnull=True) | Q(expires_on__gte=today)).order_by("title", "id")
    return list(rows.values_list("id", "title")[:limit])


def collateral_report(*, today: dt.date | None = None) -> dict[str, Any]:
    """Everything `tandem report requests` prints: counts, warnings, lead times and library suggestions."""
    from django.db.models import Count

    today = today or timezone.localdate()
    counts = dict(CollateralRequest.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    open_rows = _with_relations().filter(status__in=board.OPEN).order_by("due_on", "id")
    warnings = []
    for card in (_card(r, today) for r in open_rows):
        if card.due:
            r = card.request
            warnings.append(
                {"id": r.pk, "type": r.kind, "purpose": r.purpose, "status": r.status, "due_on": r.due_on.isoformat(),
                 "warning": card.due, "requested_by": str(r.requested_by or "")}
            )
    return {
        "as_of": today.isoformat(),
        "counts": {status: counts.get(status, 0) for status in board.COLUMNS},
        "warnings": warnings,
        "lead_times": [
            {"type": lt.kind, "n": lt.n, "median_days": lt.median_days, "p80_days": lt.p80_days,
             "ask_days_ahead": lt.ask_days_ahead}
            for lt in collateral_lead_times()
        ],
        "suggestions": [
            {"type": s["kind"], **{k: v for k, v in s.items() if k not in ("kind", "kind_label")},
             "last_requested_at": s["last_requested_at"].isoformat()}
            for s in collateral_suggestions()
        ],
    }


# ---- personal data (tandem.privacy): requests made for one person's deals ----


def requests_export_deals(*, deal_ids: list[int]) -> list[dict[str, Any]]:
    """Collateral requested for these deals (a person's), oldest first, as plain values (the per-person export)."""
    return rows_plain(
        CollateralRequest.objects.filter(deal_id__in=deal_ids)
        .order_by("created_at", "id")
        .values(
            "id", "kind", "purpose", "deal_id", "account_id", "quantity", "due_on", "status", "requested_by_id",
            "assignee_id", "delivered_at", "delivery_note", "decline_reason", "created_at",
        )
    )
