"""Writes for outbound webhooks: emitting events as deliveries, sending them with retries, managing endpoints.

Emitting is cheap on purpose, because every state change in Tandem calls it: one query for the active
endpoints (none inside a transaction that already asked), nothing else when nobody subscribes; otherwise one
bulk insert of deliveries and one outbox row per transaction, whose task sends what is due after the commit.
The worker's loop (`deliveries_loop`) sends the retries when they fall due.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from tandem.core.erasure import rows_mentioning
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import event_record
from tandem.core.outbox import task_enqueue_on_commit
from tandem.core.text import text_clean
from tandem.webhooks.catalog import EVENT_TYPES, PING
from tandem.webhooks.models import (
    ALL_EVENTS,
    ERROR_MAX,
    RESPONSE_EXCERPT_MAX,
    URL_MAX,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Endpoint,
)
from tandem.webhooks.registry import admins_notify
from tandem.webhooks.sending import (
    Answer,
    message_id_new,
    post,
    secret_generate,
    signature_header,
    url_problem,
)

logger = logging.getLogger("tandem.webhooks")

SEND_TASK = "tandem.webhooks.tasks.deliveries_send"
# A delivery being sent is held this long; past it (a worker died mid-send) another sender may take it.
CLAIM = dt.timedelta(minutes=2)
DESCRIPTION_MAX = 200
WAITING = (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
LOOP_SECONDS = 2.0


# ---- emitting ----


class _TransactionCache:
    """The active endpoints as one transaction read them, and whether it has queued the send task.

    It sits in the connection's on-commit list, so it lives exactly as long as the transaction (a rollback
    drops it with the rest); run on commit, it forgets everything (tests capture and run callbacks mid-way)."""

    def __init__(self) -> None:
        self.endpoints: list[tuple[int, list[str]]] | None = None
        self.queued = False

    def __call__(self) -> None:
        self.endpoints, self.queued = None, False


def _transaction_cache() -> _TransactionCache | None:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return None
    for _sids, func, _robust in connection.run_on_commit:
        if isinstance(func, _TransactionCache):
            return func
    cache = _TransactionCache()
    transaction.on_commit(cache)
    return cache


def _cache_forget() -> None:
    # An endpoint changed inside this transaction: its next emit reads the endpoints again.
    cache = _transaction_cache()
    if cache is not None:
        cache.endpoints = None


def _subscribers(event_type: str) -> list[int]:
    cache = _transaction_cache()
    rows = cache.endpoints if cache is not None else None
    if rows is None:
        rows = list(Endpoint.objects.filter(active=True).order_by("id").values_list("id", "event_types"))
        if cache is not None:
            cache.endpoints = rows
    return [pk for pk, types in rows if ALL_EVENTS in types or event_type in types]


def _timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _body(event_type: str, data: dict[str, Any], moment: dt.datetime) -> str:
    envelope = {"type": event_type, "timestamp": _timestamp(moment), "data": data}
    # Dates, decimals and UUIDs in data become text; the body is fixed here and sent byte for byte ever after.
    return json.dumps(envelope, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def _queue_send() -> None:
    cache = _transaction_cache()
    if cache is not None and cache.queued:
        return
    task_enqueue_on_commit(task=SEND_TASK)
    if cache is not None:
        cache.queued = True
        # Forget it again when this hand-over runs: callbacks run mid-transaction (tests capture them) must
        # not leave the next emit believing a send is still to come.
        transaction.on_commit(cache)


def webhooks_emit_bulk(
    *, event_type: str, items: Iterable[dict[str, Any]], occurred_at: dt.datetime | None = None
) -> int:
    """Queue one message per item of `event_type` to every active endpoint subscribed; returns the deliveries
    made. Sent by the worker after the commit (nothing is sent if the caller's transaction rolls back).

    `items` may be a generator: bulk writers pass one so that nothing is built when nobody subscribes."""
    if event_type not in EVENT_TYPES:
        raise ValidationFailed(
            f"unknown webhook event type {event_type!r}", field="event_type", value=event_type
        )
    if isinstance(items, Sequence) and not items:
        return 0
    endpoint_ids = _subscribers(event_type)
    if not endpoint_ids:
        return 0
    now = timezone.now()
    moment = occurred_at or now
    rows: list[Delivery] = []
    for data in items:
        body, message_id = _body(event_type, dict(data), moment), message_id_new()
        rows += [
            Delivery(
                endpoint_id=pk,
                message_id=message_id,
                event_type=event_type,
                body=body,
                status=DeliveryStatus.PENDING,
                next_attempt_at=now,
                created_at=now,
            )
            for pk in endpoint_ids
        ]
    if not rows:
        return 0
    Delivery.objects.bulk_create(rows, batch_size=1000)
    _queue_send()
    return len(rows)


def webhook_emit(*, event_type: str, data: dict[str, Any], occurred_at: dt.datetime | None = None) -> int:
    """Queue one message of `event_type` with `data` to every active endpoint subscribed to it; returns the
    deliveries made (0, after one cheap query, when nobody subscribes)."""
    return webhooks_emit_bulk(event_type=event_type, items=[data], occurred_at=occurred_at)


# ---- sending ----


def _retry_schedule() -> list[int]:
    return [int(s) for s in settings.WEBHOOKS_RETRY_SCHEDULE]


def _secrets_in_use(endpoint: Endpoint, now: dt.datetime) -> list[str]:
    out = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_secret_expires_at
        and endpoint.previous_secret_expires_at > now
    ):
        out.append(endpoint.previous_secret)
    return out


def _endpoint_disable(*, endpoint: Endpoint, reason: str, at: dt.datetime, by_user: Any = None) -> bool:
    """Disable an active endpoint (once: a concurrent disabling wins), record it and tell the admins."""
    changed = Endpoint.objects.filter(pk=endpoint.pk, active=True).update(
        active=False, disabled_reason=reason[:500], disabled_at=at
    )
    if not changed:
        return False
    endpoint.active, endpoint.disabled_reason, endpoint.disabled_at = False, reason[:500], at
    event_record(
        kind="webhook.endpoint_disabled", subject=endpoint, actor=by_user, reason=reason, occurred_at=at
    )
    if by_user is None:
        admins_notify(
            kind="webhook_disabled",
            text=f"Webhook endpoint {endpoint.url} was disabled: {reason}",
            url=f"/webhooks/{endpoint.pk}/",
        )
    return True


def delivery_attempt(*, delivery: Delivery, now: dt.datetime | None = None) -> Delivery:
    """Post one delivery now, record the attempt and schedule the next one (or give up, or disable the endpoint).

    The HTTP request is made outside any transaction; the outcome is written in one short transaction."""
    endpoint = Endpoint.objects.get(pk=delivery.endpoint_id)
    moment = now or timezone.now()
    body = delivery.body.encode()
    problem = url_problem(endpoint.url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS, resolve=True)
    if problem is not None:
        answer = Answer(status=None, excerpt="", error=f"refused: the URL {problem}", duration_ms=0)
    else:
        headers = {
            "webhook-id": delivery.message_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": signature_header(
                secrets_in_use=_secrets_in_use(endpoint, moment),
                message_id=delivery.message_id,
                timestamp=moment,
                body=body,
            ),
        }
        answer = post(
            url=endpoint.url,
            body=body,
            headers=headers,
            timeout=settings.WEBHOOKS_TIMEOUT_SECONDS,
            excerpt_max=RESPONSE_EXCERPT_MAX,
        )
    with transaction.atomic():
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=moment,
            response_code=answer.status,
            error=answer.error[:ERROR_MAX],
            response_excerpt=answer.excerpt,
            duration_ms=answer.duration_ms,
            succeeded=answer.ok,
        )
        delivery.attempts += 1
        delivery.last_attempt_at = moment
        delivery.last_response_code = answer.status
        delivery.last_error = answer.error[:ERROR_MAX]
        delivery.response_excerpt = answer.excerpt
        delivery.last_duration_ms = answer.duration_ms
        delivery.claimed_until = None
        if answer.ok:
            delivery.status, delivery.next_attempt_at, delivery.succeeded_at = (
                DeliveryStatus.SUCCEEDED,
                None,
                moment,
            )
            Endpoint.objects.filter(pk=endpoint.pk, consecutive_failures__gt=0).update(consecutive_failures=0)
        else:
            schedule = _retry_schedule()
            if delivery.attempts <= len(schedule):
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = moment + dt.timedelta(seconds=schedule[delivery.attempts - 1])
            else:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.ABANDONED, None
            Endpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
            failures = (
                Endpoint.objects.filter(pk=endpoint.pk).values_list("consecutive_failures", flat=True).get()
            )
            limit = int(settings.WEBHOOKS_DISABLE_AFTER)
            if limit and failures >= limit and endpoint.active:
                what = f"HTTP {answer.status}" if answer.status is not None else answer.error
                _endpoint_disable(
                    endpoint=endpoint,
                    reason=f"{failures} failed attempts in a row (the last: {what})",
                    at=moment,
                )
        delivery.save()
    return delivery


def deliveries_prune(*, now: dt.datetime | None = None) -> int:
    """Delete the finished (succeeded or abandoned) deliveries older than WEBHOOKS_RETENTION_DAYS, with their
    attempts; pending and failed ones stay whatever their age. Returns the deliveries deleted."""
    moment = now or timezone.now()
    cutoff = moment - dt.timedelta(days=settings.WEBHOOKS_RETENTION_DAYS)
    finished = Delivery.objects.filter(
        status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.ABANDONED], created_at__lt=cutoff
    )
    _, per_model = finished.delete()  # their attempts go with them (cascade)
    return per_model.get(Delivery._meta.label, 0)


def deliveries_send_due(*, now: dt.datetime | None = None, limit: int = 200) -> int:
    """Send the deliveries that are due to active endpoints, oldest due first; returns how many were attempted."""
    moment = now or timezone.now()
    due = list(
        Delivery.objects.filter(status__in=WAITING, next_attempt_at__lte=moment, endpoint__active=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=moment))
        .order_by("next_attempt_at", "id")
        .values_list("pk", "claimed_until")[:limit]
    )
    sent = 0
    for pk, claimed_until in due:
        # Claim it: of the after-commit task and the worker's loop, only one sends it.
        if not Delivery.objects.filter(pk=pk, claimed_until=claimed_until, status__in=WAITING).update(
            claimed_until=moment + CLAIM
        ):
            continue
        delivery = Delivery.objects.get(pk=pk)
        try:
            delivery_attempt(delivery=delivery, now=now)
        except Exception:  # one broken row must not stop the others; it is tried again after its claim
            logger.exception("Sending webhook delivery %s failed", pk)
            continue
        sent += 1
    return sent


def deliveries_loop(
    *, stop: threading.Event, every: float = LOOP_SECONDS, send: Callable[..., int] = deliveries_send_due
) -> None:
    """The worker's thread: send due deliveries (retries fall due here) every few seconds until `stop` is set."""
    while not stop.wait(every):
        try:
            while send() and not stop.is_set():
                pass
        except Exception:  # the database may be down; the next round tries again
            logger.exception("The webhook delivery loop failed; trying again in %s s.", every)
        finally:
            close_old_connections()


def delivery_replay(*, delivery: Delivery, by_user: Any = None, send_now: bool = False) -> Delivery:
    """Send a delivery again (a new attempt under the same message id): queued for the worker at once, or
    sent here and now (`send_now`, the command line), held meanwhile so the worker leaves it alone."""
    now = timezone.now()
    with transaction.atomic():
        locked = Delivery.objects.select_for_update().get(pk=delivery.pk)
        endpoint = Endpoint.objects.get(pk=locked.endpoint_id)
        if not endpoint.active:
            raise NotAllowed(
                f"endpoint {endpoint.pk} is disabled; re-enable it before replaying",
                field="endpoint_id",
                value=endpoint.pk,
            )
        locked.status, locked.next_attempt_at, locked.succeeded_at = DeliveryStatus.PENDING, now, None
        locked.claimed_until = now + CLAIM if send_now else None
        locked.save(update_fields=["status", "next_attempt_at", "claimed_until", "succeeded_at"])
        event_record(
            kind="webhook.delivery_replayed",
            subject=locked,
            actor=by_user,
            data={"message_id": locked.message_id, "endpoint": endpoint.pk, "event_type": locked.event_type},
        )
        if not send_now:
            _queue_send()
    return delivery_attempt(delivery=locked) if send_now else locked


def deliveries_erase_person(*, needles: Collection[str]) -> int:
    """Delete the deliveries (sent or waiting) whose message mentions the person: none is sent after the erasure."""
    rows = rows_mentioning(rows=Delivery.objects.all(), needles=needles, text=["body"])
    count = rows.count()
    if count:
        Delivery.objects.filter(pk__in=list(rows.values_list("pk", flat=True))).delete()
    return count


# ---- endpoints ----


def _url(value: Any) -> str:
    url = text_clean(value, field="url", max_length=URL_MAX, required=True)
    problem = url_problem(url, allow_private=settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS)
    if problem is not None:
        raise ValidationFailed(f"url {url!r} {problem}", field="url", value=url)
    return url


def _event_types(value: Any) -> list[str]:
    if value == ALL_EVENTS:
        return [ALL_EVENTS]
    if not isinstance(value, list | tuple) or not value:
        raise ValidationFailed(
            'event_types must list at least one event type (or be "*" for all)',
            field="event_types",
            value=value,
        )
    out: list[str] = []
    for name in value:
        if name == ALL_EVENTS:
            return [ALL_EVENTS]
        if not isinstance(name, str) or name not in EVENT_TYPES:
            raise ValidationFailed(f"unknown event type {name!r}", field="event_types", value=name)
        if name not in out:
            out.append(name)
    return out


def endpoint_create(*, url: str, event_types: Any, description: str = "", by_user: Any = None) -> Endpoint:
    """Add an endpoint subscribed to `event_types` (a list, or "*"), with a new signing secret."""
    clean_url = _url(url)
    types = _event_types(event_types)
    text = text_clean(description, field="description", max_length=DESCRIPTION_MAX, required=False)
    with transaction.atomic():
        endpoint = Endpoint.objects.create(
            url=clean_url,
            description=text,
            event_types=types,
            secret=secret_generate(),
            created_by=by_user if getattr(by_user, "pk", None) else None,
            created_at=timezone.now(),
        )
        event_record(
            kind="webhook.endpoint_created",
            subject=endpoint,
            actor=by_user,
            data={"url": clean_url, "event_types": types},
        )
        _cache_forget()
    return endpoint


def endpoint_update(*, endpoint: Endpoint, by_user: Any = None, **changes: Any) -> Endpoint:
    """Change an endpoint's url, description or event types, recording the old and new values."""
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "url":
            clean[name] = _url(value)
        elif name == "event_types":
            clean[name] = _event_types(value)
        elif name == "description":
            clean[name] = text_clean(value, field="description", max_length=DESCRIPTION_MAX, required=False)
        else:
            raise ValidationFailed(f"field {name!r} cannot be changed here", field=name, value=value)
    diff = {k: [getattr(endpoint, k), v] for k, v in clean.items() if getattr(endpoint, k) != v}
    if not diff:
        return endpoint
    with transaction.atomic():
        for name, (_old, new) in diff.items():
            setattr(endpoint, name, new)
        endpoint.save(update_fields=[*diff, "updated_at"])
        event_record(kind="webhook.endpoint_updated", subject=endpoint, actor=by_user, data={"changes": diff})
        _cache_forget()
    return endpoint


def endpoint_remove(*, endpoint: Endpoint, by_user: Any = None) -> None:
    """Delete an endpoint with its delivery log (waiting deliveries are not sent)."""
    with transaction.atomic():
        event_record(
            kind="webhook.endpoint_removed",
            subject=endpoint,
            actor=by_user,
            data={"url": endpoint.url, "deliveries": endpoint.deliveries.count()},
        )
        Endpoint.objects.filter(pk=endpoint.pk).delete()
        _cache_forget()


def endpoint_rotate_secret(*, endpoint: Endpoint, by_user: Any = None) -> Endpoint:
    """Give an endpoint a new secret; the old one keeps signing beside it (two signatures) for the overlap."""
    now = timezone.now()
    with transaction.atomic():
        endpoint.previous_secret = endpoint.secret
        endpoint.previous_secret_expires_at = now + dt.timedelta(
            hours=settings.WEBHOOKS_ROTATION_OVERLAP_HOURS
        )
        endpoint.secret = secret_generate()
        endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
        event_record(
            kind="webhook.secret_rotated",
            subject=endpoint,
            actor=by_user,
            data={"previous_expires_at": endpoint.previous_secret_expires_at.isoformat()},
        )
    return endpoint


def endpoint_set_active(
    *, endpoint: Endpoint, active: bool, by_user: Any = None, reason: str = ""
) -> Endpoint:
    """Disable an endpoint by hand, or re-enable it (its failure count starts again; waiting deliveries resume)."""
    now = timezone.now()
    with transaction.atomic():
        if not active:
            if endpoint.active:
                _endpoint_disable(
                    endpoint=endpoint, reason=reason or "disabled by hand", at=now, by_user=by_user
                )
        elif not endpoint.active:
            Endpoint.objects.filter(pk=endpoint.pk).update(
                active=True, disabled_at=None, disabled_reason="", consecutive_failures=0
            )
            event_record(
                kind="webhook.endpoint_enabled",
                subject=endpoint,
                actor=by_user,
                reason=reason,
                data={"was_disabled_because": endpoint.disabled_reason},
            )
            endpoint.active, endpoint.disabled_at, endpoint.disabled_reason = True, None, ""
            endpoint.consecutive_failures = 0
            # Deliveries that waited while it was off (or for their next retry) are due now: it was just fixed.
            Delivery.objects.filter(endpoint=endpoint, status__in=WAITING).update(next_attempt_at=now)
            _queue_send()
        _cache_forget()
    return endpoint


def endpoint_ping(*, endpoint: Endpoint, by_user: Any = None) -> Delivery:
    """Send a test message (`webhook.ping`) to the endpoint now, while the admin waits; returns its delivery."""
    now = timezone.now()
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        message_id=message_id_new(),
        event_type=PING.name,
        body=_body(PING.name, {"message": f"Test message from Tandem to endpoint {endpoint.pk}"}, now),
        # Not waiting for the worker: it is sent right here, once, and never retried.
        status=DeliveryStatus.PENDING,
        next_attempt_at=now,
        claimed_until=now + CLAIM,
        created_at=now,
    )
    event_record(
        kind="webhook.pinged", subject=endpoint, actor=by_user, data={"message_id": delivery.message_id}
    )
    sent = delivery_attempt(delivery=delivery, now=now)
    if sent.status == DeliveryStatus.FAILED:
        # A ping is a question asked once; its retries would only add noise to the log.
        Delivery.objects.filter(pk=sent.pk).update(status=DeliveryStatus.ABANDONED, next_attempt_at=None)
        sent.status, sent.next_attempt_at = DeliveryStatus.ABANDONED, None
    return sent
