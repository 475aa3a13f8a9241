"""Writes for collateral requests: filing one, moving it across the board, and marking a library suggestion
handled (each an event)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any

from django.db import transaction
from django.db.models import Model as _Model
from django.utils import timezone

from tandem.core.erasure import rows_mentioning, rows_redact
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.events import event_record
from tandem.core.keyset import MAX_ID
from tandem.enablement.requests import board
from tandem.enablement.requests.models import CollateralRequest, RequestKind, RequestStatus
from tandem.enablement.requests.permissions import require_board, require_file
from tandem.users.access import access_seen
from tandem.webhooks.services import webhook_emit

PURPOSE_MAX = 2000
QUANTITY_MAX = 100_000
# A suggestion groups at most the requests the suggestions read (selectors.SUGGESTION_MAX_REQUESTS).
HANDLE_MAX_REQUESTS = 2000


@transaction.atomic
def collateral_request_file(
    *,
    by_user: Any,
    kind: str,
    purpose: str,
    due_on: dt.date,
    quantity: int = 1,
    deal_id: int | None = None,
    account_id: int | None = None,
    today: dt.date | None = None,
    at: dt.datetime | None = None,
) -> CollateralRequest:
    """File a request for material with marketing; it lands in the board's "new" column."""
    from tandem.crm.models import Account, Deal

    require_file(by_user)
    if kind not in RequestKind.values:
        raise ValidationFailed(f"unknown request type {kind!r}", field="kind", value=kind)
    purpose = (purpose or "").strip()
    if not purpose:
        raise ValidationFailed("say what the material is for", field="purpose", value="")
    if len(purpose) > PURPOSE_MAX or "\x00" in purpose:
        raise ValidationFailed(f"the purpose must be plain text of at most {PURPOSE_MAX} characters", field="purpose", value=purpose[:40])
    if not 1 <= quantity <= QUANTITY_MAX:
        raise ValidationFailed(f"quantity must be between 1 and {QUANTITY_MAX}", field="quantity", value=quantity)
    # `at` backdates a request (imports, the demo company); the due date is checked against that day.
    now = at or timezone.now()
    today = today or (timezone.localdate(now) if at else timezone.localdate())
    if due_on < today:
        raise ValidationFailed(f"the due date {due_on} is in the past", field="due_on", value=due_on)
    deal = account = None
    # A deal or account the filer may not see (tandem.users.access) is answered as a missing one.
    if deal_id is not None:
        deal = access_seen(Deal.objects.all(), user=by_user).filter(pk=deal_id).first()
        if deal is None:
            raise NotFound(f"no deal has id {deal_id}", field="deal_id", value=deal_id)
    if account_id is not None:
        account = access_seen(Account.objects.all(), user=by_user).filter(pk=account_id).first()
        if account is None:
            raise NotFound(f"no account has id {account_id}", field="account_id", value=account_id)
    if account is None and deal is not None:
        account = deal.account
    request = CollateralRequest.objects.create(
        kind=kind,
        purpose=purpose,
        requested_by=by_user,
        deal=deal,
        account=account,
        quantity=quantity,
        due_on=due_on,
        status=RequestStatus.NEW,
        status_changed_at=now,
        created_at=now,
    )
    event_record(
        kind="collateral.requested",
        subject=request,
        actor=by_user,
        occurred_at=now,
        data={"type": kind, "quantity": quantity, "due_on": due_on.isoformat(), "deal_id": deal_id,
              "account_id": account.pk if account else None},
    )
    webhook_emit(event_type="content.requested", data=_webhook_data(request), occurred_at=now)
    return request


def _webhook_data(request: CollateralRequest) -> dict[str, Any]:
    # content.requested / content.delivered (tandem.webhooks.catalog)
    return {
        "request_id": request.pk, "kind": request.kind, "purpose": request.purpose, "status": request.status,
        "quantity": request.quantity, "due_on": request.due_on, "deal_id": request.deal_id,
        "account_id": request.account_id, "requested_by_id": request.requested_by_id,
        "assignee_id": request.assignee_id, "delivered_at": request.delivered_at,
        "delivery_note": request.delivery_note,
    }  # fmt: skip


@transaction.atomic
def collateral_request_move(
    *, request_id: int, to: str, by_user: Any, reason: str = "", note: str = "", at: dt.datetime | None = None
) -> CollateralRequest:
    """Move a request to another column when the board allows it; refused moves change nothing."""
    require_board(by_user)
    request = CollateralRequest.objects.select_for_update().filter(pk=request_id).first()
    if request is None:
        raise NotFound(f"no collateral request has id {request_id}", field="request_id", value=request_id)
    reason = board.move_check(current=request.status, target=to, reason=reason)
    note = (note or "").strip()
    if len(note) > board.REASON_MAX or "\x00" in note:
        raise ValidationFailed(f"the note must be plain text of at most {board.REASON_MAX} characters", field="note", value=note[:40])
    now = at or timezone.now()
    previous = request.status
    request.status = to
    request.status_changed_at = now
    if request.assignee_id is None and to in (RequestStatus.ACCEPTED, RequestStatus.IN_PROGRESS):
        request.assignee = by_user
    if to == RequestStatus.DELIVERED:
        request.delivered_at = now
        request.delivery_note = note
    if to == RequestStatus.DECLINED:
        request.decline_reason = reason
    if to == RequestStatus.NEW:
        # Reopened: the old refusal no longer stands.
        request.decline_reason = ""
    request.save()
    event_record(
        kind="collateral.moved",
        subject=request,
        actor=by_user,
        reason=reason,
        occurred_at=now,
        data={"from": previous, "to": to, **({"note": note} if note else {})},
    )
    if to == RequestStatus.DELIVERED:
        webhook_emit(event_type="content.delivered", data=_webhook_data(request), occurred_at=now)
    return request


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _ids_listed(ids: Sequence[Any]) -> str:
    return ", ".join(str(i) for i in ids[:10]) + (" …" if len(ids) > 10 else "")


@transaction.atomic
def collateral_suggestion_handle(
    *, actor: Any, request_ids: Sequence[int], asset: Any = None, at: dt.datetime | None = None
) -> list[CollateralRequest]:
    """Mark a library suggestion's requests handled (optionally naming the asset that answers them); all or nothing."""
    from tandem.enablement.models import Asset

    require_board(actor)
    raw = list(request_ids)
    if not raw:
        raise ValidationFailed("name the requests the suggestion groups", field="request_ids", value="[]")
    if len(raw) > HANDLE_MAX_REQUESTS:
        raise ValidationFailed(f"at most {HANDLE_MAX_REQUESTS} requests at a time", field="request_ids", value=len(raw))
    # Ids beyond the id column's range would be a database error, not an answer.
    bad = [i for i in raw if not _is_id(i)]
    if bad:
        raise ValidationFailed(f"not a request id: {_ids_listed(bad)}", field="request_ids", value=_ids_listed(bad))
    ids = sorted(set(raw))
    answer = None
    if asset is not None:
        asset_id = asset.pk if isinstance(asset, Asset) else asset
        if not _is_id(asset_id):
            raise ValidationFailed(f"not an asset id: {asset_id!r}", field="asset_id", value=asset_id)
        answer = Asset.objects.filter(pk=asset_id).first()
        if answer is None:
            raise ValidationFailed(f"no library asset has id {asset_id}", field="asset_id", value=asset_id)
    found = dict(
        CollateralRequest.objects.select_for_update().filter(pk__in=ids).values_list("pk", "suggestion_handled_at")
    )
    missing = [i for i in ids if i not in found]
    if missing:
        raise ValidationFailed(f"no collateral request has id {_ids_listed(missing)}", field="request_ids", value=_ids_listed(missing))
    handled = [i for i in ids if found[i] is not None]
    if handled:
        raise ValidationFailed(f"requests already marked handled: {_ids_listed(handled)}", field="request_ids", value=_ids_listed(handled))
    now = at or timezone.now()
    CollateralRequest.objects.filter(pk__in=ids).update(
        suggestion_handled_at=now, suggestion_handled_by=actor, suggestion_asset=answer, updated_at=now
    )
    requests = list(CollateralRequest.objects.filter(pk__in=ids).order_by("id"))
    data = {"request_ids": ids, "asset_id": answer.pk if answer else None, "asset": answer.title if answer else ""}
    for request in requests:
        event_record(kind="collateral.suggestion_handled", subject=request, actor=actor, occurred_at=now, data=data)
    return requests


# ---- personal data (tandem.privacy): requests naming one person ----

REQUEST_TEXTS = ["purpose", "delivery_note", "decline_reason"]


def requests_erase_person(*, needles: Collection[str]) -> int:
    """Take a person's e-mail, full name and phone out of any request's purpose and notes."""
    rows = rows_mentioning(rows=CollateralRequest.objects.all(), needles=needles, text=REQUEST_TEXTS)
    return rows_redact(rows=rows, needles=needles, text=REQUEST_TEXTS)


def collateral_requests_restore_bulk(
    *, model: type[_Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], replace: bool = False
) -> int:
    """Insert a backup's rows of one of this app's tables as they are, ids included (the bundle restore)."""
    from tandem.core.bulk import rows_restore

    return rows_restore(owner="collateral", model=model, columns=columns, rows=rows, replace=replace)
