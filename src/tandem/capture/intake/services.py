"""Writes for web-to-lead forms and the ingestion journal: every arrival is journaled raw first.

A request only checks what arrived (pure code), counts it against its key's rate limit and inserts the raw
journal row, in one short transaction; bad input is journaled as `rejected` and answered with a 4xx naming
the field. Turning rows into people and touchpoints is `processing.py`'s work: right away in the same request
when TANDEM_CAPTURE_PROCESSING is `inline`, or by the background drain (`background`, the default under
`tandem serve`), which handles hundreds of rows per transaction.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from tandem.campaigns.models import Campaign
from tandem.campaigns.selectors import campaign_for_utm
from tandem.campaigns.services import campaign_create
from tandem.capture.intake.processing import CHANNEL_SET, KIND_SET, decode, fields_of, submissions_process
from tandem.capture.intake.selectors import submissions_of_person
from tandem.capture.intake.validation import (
    body_decode,
    form_fields_parse,
    submission_clean,
    track_events_clean,
)
from tandem.capture.models import Form, RateWindow, Submission, SubmissionStatus, UnknownUtm
from tandem.core.erasure import rows_redact
from tandem.core.errors import NotAllowed, NotFound, TandemError, ValidationFailed
from tandem.core.events import event_record
from tandem.core.locks import writer_turn

log = logging.getLogger(__name__)


# ---- forms ----


def _form_values(
    *,
    name: str,
    fields: Any,
    campaign: Campaign | None,
    touchpoint_kind: str,
    submit_label: str,
    thank_you_message: str,
    redirect_url: str,
    rate_limit_per_minute: int,
) -> dict[str, Any]:
    name = name.strip()
    if not name:
        raise ValidationFailed("a form needs a name", field="name", value=name)
    if len(name) > 200:
        raise ValidationFailed("the name is longer than 200 characters", field="name", value=name[:40])
    specs = form_fields_parse(fields)
    if touchpoint_kind not in Form.Kind.values:
        raise ValidationFailed(
            f"touchpoint kind {touchpoint_kind!r} is not one of {', '.join(Form.Kind.values)}",
            field="touchpoint_kind",
            value=touchpoint_kind,
        )
    redirect_url = redirect_url.strip()
    if redirect_url and not re.match(r"^https?://[^\s/]+", redirect_url):
        raise ValidationFailed(
            f"redirect address {redirect_url!r} must start with http:// or https://",
            field="redirect_url",
            value=redirect_url,
        )
    if not 1 <= rate_limit_per_minute <= 1_000_000:
        raise ValidationFailed(
            "the rate limit must be between 1 and 1,000,000 submissions a minute",
            field="rate_limit_per_minute",
            value=rate_limit_per_minute,
        )
    return {
        "name": name,
        "fields": [s.as_dict() for s in specs],
        "campaign": campaign,
        "touchpoint_kind": touchpoint_kind,
        "submit_label": submit_label.strip()[:60] or "Send",
        "thank_you_message": thank_you_message.strip() or "Thank you! We will be in touch soon.",
        "redirect_url": redirect_url,
        "rate_limit_per_minute": rate_limit_per_minute,
    }


def _unique_slug(name: str, *, exclude_id: int | None = None) -> str:
    base = slugify(name)[:70] or "form"
    slug, n = base, 1
    others = Form.objects.exclude(pk=exclude_id) if exclude_id is not None else Form.objects.all()
    while others.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def form_create(
    *,
    name: str,
    fields: Any,
    campaign: Campaign | None = None,
    touchpoint_kind: str = Form.Kind.FORM_SUBMIT,
    submit_label: str = "Send",
    thank_you_message: str = "",
    redirect_url: str = "",
    rate_limit_per_minute: int | None = None,
    by_user: Any = None,
) -> Form:
    """Define a web-to-lead form; it gets a hosted page, an HTML snippet and a public key."""
    if rate_limit_per_minute is None:
        rate_limit_per_minute = settings.CAPTURE_FORM_RATE_LIMIT
    values = _form_values(
        name=name,
        fields=fields,
        campaign=campaign,
        touchpoint_kind=touchpoint_kind,
        submit_label=submit_label,
        thank_you_message=thank_you_message,
        redirect_url=redirect_url,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    form = Form.objects.create(
        slug=_unique_slug(values["name"]),
        created_by=by_user if getattr(by_user, "pk", None) else None,
        **values,
    )
    event_record(kind="form.created", subject=form, actor=by_user, data={"fields": values["fields"]})
    form_cache_clear()
    return form


@transaction.atomic
def form_update(
    *,
    form: Form,
    name: str,
    fields: Any,
    campaign: Campaign | None = None,
    touchpoint_kind: str = Form.Kind.FORM_SUBMIT,
    submit_label: str = "Send",
    thank_you_message: str = "",
    redirect_url: str = "",
    rate_limit_per_minute: int | None = None,
    is_active: bool = True,
    by_user: Any = None,
) -> Form:
    """Change a form; its key and address stay, so pasted snippets keep working."""
    if rate_limit_per_minute is None:
        rate_limit_per_minute = form.rate_limit_per_minute
    values = _form_values(
        name=name,
        fields=fields,
        campaign=campaign,
        touchpoint_kind=touchpoint_kind,
        submit_label=submit_label,
        thank_you_message=thank_you_message,
        redirect_url=redirect_url,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    values["is_active"] = is_active
    before = {k: getattr(form, k) for k in values if k != "campaign"}
    before["campaign"] = form.campaign_id
    for key, value in values.items():
        setattr(form, key, value)
    form.save()
    after = {k: getattr(form, k) for k in values if k != "campaign"}
    after["campaign"] = form.campaign_id
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        event_record(kind="form.updated", subject=form, actor=by_user, data={"changes": changes})
    form_cache_clear()
    return form


# ---- the journal ----


@dataclass(frozen=True)
class Arrival:
    """What an HTTP request brought, before anything is made of it."""

    source: str
    key: str
    body: bytes
    body_size: int
    content_type: str = ""
    remote_addr: str = ""
    user_agent: str = ""
    referrer: str = ""
    idempotency_key: str = ""


@dataclass
class Receipt:
    """The answer to an arrival: HTTP status, JSON body, and the journal row it left."""

    status_code: int
    body: dict[str, Any]
    submission: Submission | None = None
    replayed: bool = False
    retry_after: int = 0
    redirect_url: str = ""
    form: Form | None = None
    errors: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


class _RateLimited(Exception):
    def __init__(self, retry_after: int, *, address: bool = False) -> None:
        self.retry_after = retry_after
        self.address = address  # refused by the client address's budget, not the key's


@dataclass(frozen=True)
class _Budget:
    """The budgets a request is counted against: its key's (a form, a token) and, for anonymous form posts,
    its client address's (empty key: none). The address is counted first, and a request it refuses spends
    nothing of the key's, so one client cannot use up a form's budget and lock real visitors out."""

    key: str
    limit: int
    address_key: str = ""
    address_limit: int = 0


# On PostgreSQL each server process counts in its own row (one of RATE_SHARDS) and a key's budget is their
# sum: with a single row per key, every request would wait for the previous one's commit on its row lock.
RATE_SHARDS = 8


def _rate_count(*, budget: _Budget, now: float) -> _RateLimited | None:
    """Count a request against its budgets for this minute; the refusal when it is over one (SQLite: one writer
    at a time, so the key's row and the address's row are counted exactly, in one statement). Returned, not
    raised: the caller's transaction must commit the counts of refused requests too."""
    window = int(now // 60)
    table = connection.ops.quote_name(RateWindow._meta.db_table)
    quoted = connection.ops.quote_name("window")
    keys = [budget.key, budget.address_key] if budget.address_key else [budget.key]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, {quoted}, count) VALUES {', '.join(['(%s, %s, 1)'] * len(keys))} "
            f"ON CONFLICT (key, {quoted}) DO UPDATE SET count = {table}.count + 1 RETURNING key, count",
            [v for key in keys for v in (key, window)],
        )
        counts = {str(key): int(count) for key, count in cursor.fetchall()}
        if counts[budget.key] == 1:
            _windows_forget(cursor, window=window)
        if budget.address_key and counts[budget.address_key] > budget.address_limit:
            # Refused by its address: the request spends nothing of the key's budget.
            cursor.execute(
                f"UPDATE {table} SET count = count - 1 WHERE key = %s AND {quoted} = %s", [budget.key, window]
            )
            return _RateLimited(retry_after=_retry_after(now), address=True)
    return _RateLimited(retry_after=_retry_after(now)) if counts[budget.key] > budget.limit else None


def _windows_forget(cursor: Any, *, window: int) -> None:
    """A key's new minute: forget every key's minutes before the last, so the table stays one or two rows per
    busy key (client addresses come once and never again, so their rows go with everybody's)."""
    table = connection.ops.quote_name(RateWindow._meta.db_table)
    cursor.execute(f"DELETE FROM {table} WHERE {connection.ops.quote_name('window')} < %s", [window - 1])


def address_key(address: str) -> str:
    """The rate-limit key of a client address."""
    return f"addr:{address}"[:80]


def _retry_after(now: float) -> int:
    return max(1, 60 - int(now % 60))


def _storable(text: str, limit: int) -> str:
    # Kept as it came, except NUL, which PostgreSQL cannot store in text (it becomes U+FFFD).
    return text[:limit].replace("\x00", "\ufffd")


def _journal_new(*, arrival: Arrival, form: Form | None, idempotency_key: str, limit: int) -> Submission:
    cut = arrival.body[:limit] if len(arrival.body) > limit else arrival.body
    return Submission(
        received_at=timezone.now(),
        source=arrival.source,
        form=form,
        key=_storable(arrival.key, 80),
        idempotency_key=_storable(idempotency_key, 200) or None,
        content_type=_storable(arrival.content_type, 200),
        remote_addr=_storable(arrival.remote_addr, 64),
        user_agent=_storable(arrival.user_agent, 400),
        referrer=_storable(arrival.referrer, 2000),
        body_size=arrival.body_size,
        payload=_storable(cut.decode("utf-8", "replace"), limit + 1),
    )


def _journal_insert(sub: Submission) -> Submission | None:
    """SQLite: insert the raw row (inside the caller's transaction); None when its idempotency key was already
    used (a retry). The statement is built once per process, as on PostgreSQL: the ORM's save cost more CPU
    than the rest of the request's database work (measured)."""
    sql, fields = _journal_sql(fresh=_is_fresh(sub), vendor=connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [f.get_db_prep_save(getattr(sub, f.attname), connection) for f in fields])
        if cursor.rowcount == 0:
            return None
        sub.pk = cursor.lastrowid
    sub._state.adding = False
    return sub


_JOURNAL_FIELDS = (
    "received_at", "source", "form", "key", "idempotency_key", "content_type", "remote_addr", "user_agent",
    "referrer", "body_size", "payload", "status", "http_status", "error", "error_field", "attempts",
    "processed_at", "person", "result",
)


# What a row just received holds beyond what arrived: the journal's insert writes these as literals, since
# binding and parsing 19 parameters per request cost as much as the rest of the statement (measured).
_FRESH_LITERALS = {
    "status": ("'received'", SubmissionStatus.RECEIVED),
    "http_status": ("0", 0),
    "error": ("''", ""),
    "error_field": ("''", ""),
    "attempts": ("0", 0),
    "processed_at": ("NULL", None),
    "person": ("NULL", None),
    "result": ("'{}'", {}),
}


_FRESH_ATTNAMES = {name: ("person_id" if name == "person" else name) for name in _FRESH_LITERALS}


def _is_fresh(sub: Submission) -> bool:
    return all(getattr(sub, _FRESH_ATTNAMES[name]) == value for name, (_, value) in _FRESH_LITERALS.items())


@functools.cache
def _journal_sql(*, fresh: bool, vendor: str, address: bool = False) -> tuple[str, tuple[Any, ...]]:
    """The hot path's insert and the fields it binds, built once per process (it never changes).

    PostgreSQL returns the new id (no row: the idempotency key was used, or, with `address`, the client
    address is over its budget); SQLite gives it as lastrowid. With `address` (PostgreSQL only) the same
    statement counts the request against its client address first and inserts only within the budget: the
    address costs no round trip or commit of its own. Its parameters: address key, window, the row's values,
    the address's limit.
    """
    meta = Submission._meta
    q = connection.ops.quote_name
    bound: tuple[Any, ...] = tuple(
        meta.get_field(name) for name in _JOURNAL_FIELDS if not (fresh and name in _FRESH_LITERALS)
    )
    literal = [(meta.get_field(name), sql) for name, (sql, _) in _FRESH_LITERALS.items()] if fresh else []
    columns = ", ".join(q(f.column) for f in (*bound, *(f for f, _ in literal)))
    if vendor == "postgresql":
        values = ", ".join([*(f"%s::{f.db_type(connection)}" for f in bound), *(f"{sql}::{f.db_type(connection)}" for f, sql in literal)])
    else:
        values = ", ".join([*("%s" for _ in bound), *(sql for _, sql in literal)])
    conflict = "ON CONFLICT (key, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING"
    if address and vendor == "postgresql":
        windows, w = q(RateWindow._meta.db_table), q("window")
        sql = (
            f"WITH addr AS (INSERT INTO {windows} (key, {w}, count) VALUES (%s, %s, 1) "
            f"ON CONFLICT (key, {w}) DO UPDATE SET count = {windows}.count + 1 RETURNING count) "
            f"INSERT INTO {q(meta.db_table)} ({columns}) (SELECT {values} WHERE (SELECT count FROM addr) <= %s) "
            f"{conflict}"
        )
    else:
        sql = f"INSERT INTO {q(meta.db_table)} ({columns}) VALUES ({values}) {conflict}"
    return (f"{sql} RETURNING id" if vendor == "postgresql" else sql), bound


# PostgreSQL rate counting, batched per process. Counting every request in the database cost more than the
# journal insert itself (an upsert of a hot row and a sum, per request). Each process counts locally and
# writes its count to its shard row at most every RATE_SYNC_SECONDS, reading the other shards' sum back;
# once a key has used half its budget, every request syncs, so limits are exact where they bite. Below
# that, other processes' counts may be up to RATE_SYNC_SECONDS old, which cannot let a key past its limit.
RATE_SYNC_SECONDS = 0.2


@dataclass
class _LocalCount:
    window: int
    flushed: int = 0  # this shard's count in the database after the last sync
    pending: int = 0  # counted here since
    others: int = 0  # the other shards' sum at the last sync
    synced_at: float = float("-inf")


_local_counts: dict[str, _LocalCount] = {}


def _rate_count_pg(*, key: str, limit: int, now: float) -> int:
    """Count a request against its key's budget for this minute (PostgreSQL: see RATE_SYNC_SECONDS)."""
    window = int(now // 60)
    local = _local_counts.get(key)
    if local is None or local.window != window:
        if len(_local_counts) > 10_000:
            _local_counts.clear()
        local = _local_counts[key] = _LocalCount(window=window)
    local.pending += 1
    estimate = local.flushed + local.pending + local.others
    if estimate * 2 <= limit and now - local.synced_at < RATE_SYNC_SECONDS:
        return estimate
    q = connection.ops.quote_name
    windows, w = q(RateWindow._meta.db_table), q("window")
    shard = os.getpid() % RATE_SHARDS
    own = f"{key}#{shard}"[:80]
    others = [f"{key}#{i}"[:80] for i in range(RATE_SHARDS) if i != shard]
    row = _execute_autocommit(
        f"WITH up AS (INSERT INTO {windows} (key, {w}, count) VALUES (%s, %s, %s) "
        f"ON CONFLICT (key, {w}) DO UPDATE SET count = {windows}.count + EXCLUDED.count RETURNING count) "
        f"SELECT (SELECT count FROM up) + COALESCE((SELECT SUM(count) FROM {windows} "
        f"WHERE key IN ({', '.join(['%s'] * len(others))}) AND {w} = %s), 0), (SELECT count FROM up)",
        [own, window, local.pending, *others, window],
    )
    assert row is not None  # the statement always returns its one row
    total, mine = row
    if int(mine) == local.pending:  # this shard's first sync in a new minute: forget the old minutes
        with connection.cursor() as cursor:
            _windows_forget(cursor, window=window)
    local.flushed, local.pending, local.others, local.synced_at = int(mine), 0, int(total) - int(mine), now
    return int(total)


def _execute_autocommit(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    """Run one autocommit statement, reconnecting once if the kept connection has died.

    Django's per-request health check costs a round trip on every request; capture's hot path skips it and
    retries instead. A statement that failed on a dead connection was never committed, so running it again
    writes it once (and a retry with an idempotency key is harmless anyway).
    """
    connection.health_check_done = True  # type: ignore[attr-defined]  # Django sets it, the stubs omit it

    def run() -> tuple[Any, ...] | None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            row = cursor.fetchone()
            return None if row is None else tuple(row)

    try:
        return run()
    except (InterfaceError, OperationalError):
        if connection.in_atomic_block or connection.is_usable():
            raise
        connection.close()
    return run()


def _journal_write_pg(*, sub: Submission, budget: _Budget, now: float) -> int | None:
    """PostgreSQL: count the request, then journal it in one autocommit statement (one round trip), which also
    counts it against its client address (see _journal_sql).

    Over a limit, nothing is journaled (the request still counts). Returns the new id, or None when the
    idempotency key was already used.
    """
    if _rate_count_pg(key=budget.key, limit=budget.limit, now=now) > budget.limit:
        raise _RateLimited(retry_after=_retry_after(now))
    address = bool(budget.address_key)
    sql, fields = _journal_sql(fresh=_is_fresh(sub), vendor="postgresql", address=address)
    params = [f.get_db_prep_save(getattr(sub, f.attname), connection) for f in fields]
    window = int(now // 60)
    if address:
        params = [budget.address_key, window, *params, budget.address_limit]
    row = _execute_autocommit(sql, params)
    if row is None:
        if address and _address_count_pg(key=budget.address_key, window=window) > budget.address_limit:
            # Refused by its address: the request spends nothing of the key's budget (counted above, locally).
            _local_counts[budget.key].pending -= 1
            raise _RateLimited(retry_after=_retry_after(now), address=True)
        return None
    sub.pk = int(row[0])
    sub._state.adding = False
    return sub.pk


def _address_count_pg(*, key: str, window: int) -> int:
    """An address's count in this minute (read only when its journal insert wrote nothing)."""
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count FROM {q(RateWindow._meta.db_table)} WHERE key = %s AND {q('window')} = %s", [key, window]
        )
        row = cursor.fetchone()
    return 0 if row is None else int(row[0])


def _replayed_receipt(*, key: str, idempotency_key: str) -> Receipt:
    prior = Submission.objects.get(key=_storable(key, 80), idempotency_key=_storable(idempotency_key, 200))
    # The first answer again: the same words as it had (a spam row was answered as received, too).
    if prior.status == SubmissionStatus.REJECTED:
        body: dict[str, Any] = {"submission_id": prior.pk, "detail": prior.error, "field": prior.error_field}
    elif prior.status == SubmissionStatus.FAILED:
        body = {"submission_id": prior.pk, "status": "failed", "detail": "received; processing will be retried"}
    else:
        public = prior.result if prior.source == Submission.Source.TRACK else {}
        body = {"submission_id": prior.pk, "status": "received", **public}
    status = prior.http_status or (202 if prior.status == SubmissionStatus.RECEIVED else 200)
    if status == 201:
        status = 200
    return Receipt(status_code=status, body=body, submission=prior, replayed=True)


def _error_status(exc: TandemError) -> int:
    field_name = exc.field or ""
    if field_name == "Content-Type":
        return 415
    if field_name == "body" and exc.status_code == 422:
        return 400
    return exc.status_code


# ---- form submissions ----

# Forms are read on every submission; a few seconds of caching per process spares that query. Changes made
# in this process clear it at once; other server processes see them within FORM_CACHE_SECONDS.
FORM_CACHE_SECONDS = 5.0
_form_cache: dict[str, tuple[float, Form | None]] = {}


def form_cache_clear() -> None:
    _form_cache.clear()


def form_lookup(*, key: str) -> Form | None:
    """The form a public key names (cached briefly per process)."""
    now = time.monotonic()
    hit = _form_cache.get(key)
    if hit is not None and now - hit[0] < FORM_CACHE_SECONDS:
        return hit[1]
    form = Form.objects.select_related("campaign").filter(public_key=key).first()
    if len(_form_cache) > 1000:
        _form_cache.clear()
    _form_cache[key] = (now, form)
    return form


def _after_journal(*, sub: Submission) -> None:
    """In inline mode, process the row now; otherwise the worker's drain loop (`tandem worker`) picks it up."""
    if settings.CAPTURE_PROCESSING != "inline":
        return
    submissions_process(ids=[sub.pk])
    fresh = (
        Submission.objects.filter(pk=sub.pk)
        .values_list("status", "error", "error_field", "result", "person_id")
        .first()
    )
    if fresh is not None:
        sub.status, sub.error, sub.error_field, sub.result, sub.person_id = fresh


def _answer(*, sub: Submission, form: Form | None, source: str, error: TandemError | None = None) -> Receipt:
    """The HTTP answer for a journaled row, from its status (and the refusal itself, when there is one)."""
    if sub.status == SubmissionStatus.REJECTED:
        error = error or ValidationFailed(sub.error, field=sub.error_field or None)
        return Receipt(
            status_code=sub.http_status or 422,
            body={"submission_id": sub.pk, **error.as_dict()},
            submission=sub,
            form=form,
            errors={sub.error_field: error.message} if sub.error_field else {},
        )
    if sub.status == SubmissionStatus.FAILED:
        return Receipt(
            status_code=202,
            body={"submission_id": sub.pk, "status": "failed", "detail": "received; processing will be retried"},
            submission=sub,
            form=form,
        )
    body: dict[str, Any] = {"submission_id": sub.pk, "status": "received"}
    if source == Submission.Source.TRACK:
        body.update(sub.result or {})
    # 201: made into people and touchpoints already; 202: journaled, the background drain will do it.
    code = 201 if sub.status in (SubmissionStatus.PROCESSED, SubmissionStatus.SPAM) else 202
    return Receipt(status_code=code, body=body, submission=sub, redirect_url=form.redirect_url if form else "", form=form)


def _receive(
    *, arrival: Arrival, form: Form | None, error: TandemError | None, idempotency_key: str, budget: _Budget,
    limit_bytes: int, extra: dict[str, Any] | None = None,
) -> Receipt:
    started = time.time()
    status_code = 413 if arrival.body_size > limit_bytes else (_error_status(error) if error else 0)
    # A refused request claims no idempotency key (as with Stripe's): the corrected retry must go through.
    sub = _journal_new(arrival=arrival, form=form, idempotency_key="" if error else idempotency_key, limit=limit_bytes)
    if error is not None:
        sub.status, sub.http_status = SubmissionStatus.REJECTED, status_code
        sub.error, sub.error_field = error.message[:2000], (error.field or "")[:120]
        if idempotency_key:
            sub.result = {"idempotency_key": idempotency_key[:200]}
    # A filled honeypot is not looked at here: the post is journaled and answered exactly as a real one (same
    # status, body, headers and work), and processing files it as spam, making nothing of it.
    if extra:
        sub.result = extra
    try:
        if connection.vendor == "postgresql":
            inserted = _journal_write_pg(sub=sub, budget=budget, now=started) is not None
        else:
            # Refused requests count too (the counter is kept, the journal row is not written), as on PostgreSQL.
            with writer_turn(), transaction.atomic():
                refused = _rate_count(budget=budget, now=started)
                inserted = refused is None and _journal_insert(sub) is not None
            if refused is not None:
                raise refused
        if not inserted:
            return _replayed_receipt(key=arrival.key, idempotency_key=idempotency_key)
    except _RateLimited as limited:
        if limited.address:
            body = {"detail": f"too many requests from this address; retry in {limited.retry_after} s",
                    "field": "address", "value": arrival.remote_addr}
        else:
            body = {"detail": f"too many requests for this key; retry in {limited.retry_after} s", "field": "key",
                    "value": arrival.key}
        return Receipt(status_code=429, body=body, retry_after=limited.retry_after, form=form)
    if sub.status == SubmissionStatus.RECEIVED:
        _after_journal(sub=sub)
    return _answer(sub=sub, form=form, source=arrival.source, error=error)


def form_submission_receive(*, arrival: Arrival, expect: str) -> Receipt:
    """Journal a form submission raw and check it; then it becomes a person and a touchpoint."""
    form = form_lookup(key=arrival.key)
    limit_bytes = settings.CAPTURE_MAX_FORM_BYTES
    error: TandemError | None = None
    data: dict[str, Any] = {}
    if arrival.body_size > limit_bytes:
        error = ValidationFailed(
            f"the submission is {arrival.body_size} bytes; the limit is {limit_bytes}", field="body", value=arrival.body_size
        )
    elif form is None:
        error = NotFound(f"no form has the key {arrival.key!r}", field="key", value=arrival.key)
    elif not form.is_active:
        error = NotAllowed(f"the form {form.name!r} is closed", field="key", value=arrival.key)
    else:
        try:
            data = decode(body=arrival.body, content_type=arrival.content_type, expect=expect)
            submission_clean(fields=fields_of(form), data=data)
        except ValidationFailed as exc:
            error = exc
    idempotency_key = arrival.idempotency_key
    if not idempotency_key and isinstance(data.get("submission_id"), str):
        idempotency_key = data["submission_id"].strip()
    per_address = settings.CAPTURE_ADDRESS_RATE_LIMIT
    budget = _Budget(
        key=form.public_key if form is not None else "unknown-form-key",
        limit=form.rate_limit_per_minute if form is not None else settings.CAPTURE_UNKNOWN_KEY_RATE_LIMIT,
        # 0 turns the per-address budget off.
        address_key=address_key(arrival.remote_addr) if per_address else "",
        address_limit=per_address,
    )
    receipt = _receive(
        arrival=arrival, form=form, error=error, idempotency_key=idempotency_key, budget=budget, limit_bytes=limit_bytes
    )
    receipt.data = data
    if error is not None and error.field and receipt.status_code >= 400:
        receipt.errors = {error.field: error.message}
    return receipt


# ---- tracking ----


def track_receive(*, arrival: Arrival, user: Any) -> Receipt:
    """Journal a tracking request (one event or a batch of up to 1,000) raw, check it whole, and record it."""
    limit_bytes = settings.CAPTURE_MAX_TRACK_BYTES
    error: TandemError | None = None
    events: list[Any] = []
    if arrival.body_size > limit_bytes:
        error = ValidationFailed(
            f"the request is {arrival.body_size} bytes; the limit is {limit_bytes}", field="body", value=arrival.body_size
        )
    else:
        try:
            data = body_decode(body=arrival.body, content_type=arrival.content_type, expect="json")
            events = track_events_clean(data=data, kinds=KIND_SET, channels=CHANNEL_SET, now=timezone.now())
        except ValidationFailed as exc:
            error = exc
    return _receive(
        arrival=arrival, form=None, error=error, idempotency_key=arrival.idempotency_key,
        budget=_Budget(key=arrival.key, limit=settings.CAPTURE_TRACK_RATE_LIMIT), limit_bytes=limit_bytes,
        extra={"events": len(events)} if events else None,
    )


# ---- replay ----


@dataclass
class ReplayResult:
    """What a replay did: how many journal rows it processed, and which still fail and why."""

    processed: int = 0
    rejected: int = 0
    failed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def submission_replay(*, submission: Submission) -> Submission:
    """Process a journaled submission again from its raw payload (after a fix, or a failure)."""
    if submission.status in (SubmissionStatus.PROCESSED, SubmissionStatus.SPAM):
        raise NotAllowed(
            f"submission {submission.pk} is already {submission.status}; only failed or rejected ones are replayed",
            field="status",
            value=submission.status,
        )
    form = submission.form
    if form is None and submission.source != Submission.Source.TRACK:
        form = Form.objects.filter(public_key=submission.key).first()
    with writer_turn(), transaction.atomic():
        Submission.objects.filter(pk=submission.pk).update(
            status=SubmissionStatus.RECEIVED, form=form, error="", error_field=""
        )
    submissions_process(ids=[submission.pk])
    submission.refresh_from_db()
    return submission


def submissions_replay(
    *, statuses: tuple[str, ...] = (SubmissionStatus.FAILED,), ids: list[int] | None = None, limit: int = 10_000
) -> ReplayResult:
    """Replay journaled submissions by status (failed by default) or by id."""
    rows = Submission.objects.order_by("id")
    rows = rows.filter(pk__in=ids) if ids else rows.filter(status__in=statuses)
    out = ReplayResult()
    for sub in rows.select_related("form")[:limit]:
        try:
            submission_replay(submission=sub)
        except NotAllowed as exc:
            out.errors.append((sub.pk, exc.message))
            continue
        if sub.status in (SubmissionStatus.PROCESSED, SubmissionStatus.SPAM):
            out.processed += 1
        elif sub.status == SubmissionStatus.REJECTED:
            out.rejected += 1
            out.errors.append((sub.pk, sub.error))
        else:
            out.failed += 1
            out.errors.append((sub.pk, sub.error))
    return out


# ---- unknown UTM tags ----


def _unknown_locked(unknown: UnknownUtm) -> UnknownUtm:
    # Two reviewers acting on the same tag at once: the second sees the first's decision.
    return UnknownUtm.objects.select_for_update().get(pk=unknown.pk)


def unknown_utm_campaign_default_name(*, unknown: UnknownUtm) -> str:
    """The name proposed for a campaign made from a tag: the tag, and its source in brackets."""
    return (f"{unknown.value} ({unknown.utm_source})" if unknown.utm_source else unknown.value)[:200]


@transaction.atomic
def unknown_utm_campaign_create(
    *, unknown: UnknownUtm, by_user: Any, name: str = "", channel: str = ""
) -> Campaign:
    """Make a campaign carrying an unknown tag (its utm_campaign, source and medium), so later touches with it
    count for that campaign; the campaign is made by campaigns' own service. When a campaign carries the tag
    by now, the tag is linked to that one instead of making a second."""
    unknown = _unknown_locked(unknown)
    if unknown.status == UnknownUtm.Status.CAMPAIGN:
        raise NotAllowed(
            f"utm_campaign {unknown.value!r} already became campaign {unknown.campaign_id}",
            field="status",
            value=unknown.status,
        )
    utm = {"utm_campaign": unknown.value, "utm_source": unknown.utm_source, "utm_medium": unknown.utm_medium}
    campaign = campaign_for_utm(utm=utm)
    made = campaign is None
    if campaign is None:
        campaign = campaign_create(
            name=name.strip() or unknown_utm_campaign_default_name(unknown=unknown),
            channel=channel.strip() or unknown.channel or "other",
            by_user=by_user,
            utm_campaign=unknown.value,
            utm_source=unknown.utm_source,
            utm_medium=unknown.utm_medium,
        )
    before = unknown.status
    unknown.status, unknown.campaign = UnknownUtm.Status.CAMPAIGN, campaign
    unknown.decided_by = by_user if getattr(by_user, "pk", None) else None
    unknown.decided_at = timezone.now()
    unknown.save(update_fields=["status", "campaign", "decided_by", "decided_at"])
    event_record(
        kind="capture.unknown_utm_campaign",
        subject=unknown,
        actor=by_user,
        data={"status": [before, unknown.status], "campaign": campaign.pk, "created": made, **utm},
    )
    return campaign


@transaction.atomic
def unknown_utm_ignore(*, unknown: UnknownUtm, by_user: Any) -> UnknownUtm:
    """Take a tag off the review list; it is still counted when it comes again, and never makes a campaign."""
    unknown = _unknown_locked(unknown)
    if unknown.status != UnknownUtm.Status.NEW:
        raise NotAllowed(
            f"utm_campaign {unknown.value!r} is {unknown.get_status_display().lower()}, not to review",
            field="status",
            value=unknown.status,
        )
    unknown.status = UnknownUtm.Status.IGNORED
    unknown.decided_by = by_user if getattr(by_user, "pk", None) else None
    unknown.decided_at = timezone.now()
    unknown.save(update_fields=["status", "decided_by", "decided_at"])
    event_record(
        kind="capture.unknown_utm_ignored",
        subject=unknown,
        actor=by_user,
        data={"status": [UnknownUtm.Status.NEW, unknown.status], "utm_campaign": unknown.value},
    )
    return unknown


# ---- personal data (tandem.privacy): erasing one person's journal rows ----


def submissions_erase_person(*, person_id: int, emails: list[str], needles: list[str]) -> dict[str, int]:
    """Empty the journal rows about a person (theirs, or naming one of their `emails`) of what arrived: the raw
    body, address, browser, referrer, the sender's key; an error quoting what they typed loses the `needles`.
    Status, times and counts stay. A tracking batch naming them loses its whole raw body, other people's events
    included: it was processed, and the raw copy cannot be split."""
    rows = submissions_of_person(person_id=person_id, needles=emails)
    addresses = sorted({a for a in rows.values_list("remote_addr", flat=True) if a})
    changed = rows_redact(
        rows=rows,
        needles=needles,
        text=["error"],
        json=["result"],
        blank={"payload": "", "remote_addr": "", "user_agent": "", "referrer": "", "idempotency_key": None},
    )
    windows = 0
    for address in addresses:
        # Per-address rate-limit counts carry the address in their key.
        windows += RateWindow.objects.filter(key__contains=address).delete()[0]
    return {"submissions": changed, "rate_windows": windows}
