"""`Idempotency-Key` on the API's creates: a retried POST gets the first answer again instead of a second record.

The semantics follow the IETF draft "The Idempotency-Key HTTP Header Field" (draft-ietf-httpapi-idempotency-key-
header) and Stripe's practice (docs/api.md#idempotency):

- The header is optional. Its value is 1 to 255 visible ASCII characters (a UUID is a good choice); the draft's
  Structured-Field string form (`"…"`, with the quotes) is read as the text between the quotes.
- Keys belong to a user (token or session alike): two users never see each other's answers.
- The first request with a key runs; its key, a SHA-256 fingerprint of method, path and body, and its answer
  (status and body) are stored in the create's own transaction, so the key exists exactly when the record does.
- A repeat with the same key and the same request gets the stored answer again, byte for byte, with the same
  status and `Idempotent-Replayed: true`; nothing is written.
- The same key with another method, path or body answers **422** naming the header (the draft's status for a key
  reused with a different payload); nothing is written.
- A repeat that arrives while the first is still at work waits for it on the key's unique constraint (the first
  insert holds it until its transaction ends), then gets the stored answer; if the first failed, it runs itself.
- Only successful answers (2xx) are kept: a refused request leaves no key, so the corrected request may use it.
- Keys are kept IDEMPOTENCY_KEY_HOURS (24 h), then pruned by the worker (core.tasks); an expired key is new again.

Apply `@idempotent` under an operation's `@router.post(...)`: it wraps the operation (not the handler's
arguments) and documents the header parameter in OpenAPI, which `tests/test_api_idempotency.py` checks for every
201-answering POST.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable, Collection
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja.utils import contribute_operation_callback

from tandem.core.errors import ValidationFailed

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_LENGTH = 255
# Visible ASCII only: what survives every proxy unchanged; the quoted Structured-Field form fits it too.
_KEY_RE = re.compile(r"[!-~]{1,255}")

PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": HEADER,
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_LENGTH, "pattern": "^[!-~]{1,255}$"},
    "description": "Makes a retry harmless: send a unique key (e.g. a UUID) and, within 24 hours, the same "
    "request with the same key gets the first answer again (`Idempotent-Replayed: true`) instead of a second "
    "record. The same key with a different body answers 422 naming this header.",
}

F = TypeVar("F", bound=Callable[..., Any])
# Where the view phase leaves the key row for the run phase to complete (a request attribute, per request).
_PENDING = "_tandem_idempotency_pending"


def idempotent(func: F) -> F:
    """Make a create operation honour the Idempotency-Key header (apply under `@router.post`)."""
    contribute_operation_callback(func, _operation_make_idempotent)
    return func


def _operation_make_idempotent(operation: Any) -> None:
    # The handler phase (after authentication and input parsing) claims the key or answers from it; the run phase
    # around it holds the one transaction and stores the answer ninja rendered. `_run_decorators` is how
    # django-ninja re-applies run wrappers to the copies it binds when a router is mounted.
    operation.view_func = _handler_wrap(operation.view_func)
    operation.run = _run_wrap(operation.run)
    operation._run_decorators = [*getattr(operation, "_run_decorators", []), _run_wrap]
    extra = dict(operation.openapi_extra or {})
    extra["parameters"] = [*extra.get("parameters", []), PARAMETER]
    operation.openapi_extra = extra


def _key_read(request: HttpRequest) -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    if not _KEY_RE.fullmatch(raw):
        raise ValidationFailed(
            f"{HEADER} must be 1 to {MAX_LENGTH} visible ASCII characters, not {raw[:80]!r}",
            field=HEADER,
            value=raw,
        )
    if len(raw) >= 3 and raw[0] == raw[-1] == '"':
        return raw[1:-1]
    return raw


def _fingerprint(request: HttpRequest) -> str:
    # Keyed with SECRET_KEY: a body may carry a password (POST /api/users), and a plain SHA-256 kept for a day
    # would be a fast offline check on it; an HMAC is worthless without the server's secret.
    digest = hmac.new(settings.SECRET_KEY.encode(), digestmod=hashlib.sha256)
    digest.update(f"{request.method} {request.get_full_path()}\n".encode())
    if request.content_type == "multipart/form-data":
        # An upload's body stream was read by the form parser; hash what it parsed, files by their content.
        for name, values in sorted(request.POST.lists()):
            digest.update(repr((name, values)).encode())
        for name, files in sorted(request.FILES.lists()):
            for upload in files:
                digest.update(repr((name, upload.name, upload.size)).encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
    else:
        digest.update(request.body)
    return digest.hexdigest()


def _replay(row: Any) -> HttpResponse:
    response = HttpResponse(row.response_body, status=row.status_code, content_type=row.content_type)
    if row.location:
        response["Location"] = row.location
    response[REPLAYED_HEADER] = "true"
    return response


def _handler_wrap(handler: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(handler)
    def claimed(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        key = _key_read(request)
        user = getattr(request, "user", None)
        if key is None or user is None or not user.is_authenticated:
            return handler(request, *args, **kwargs)
        from tandem.core.models import IdempotencyKey

        fingerprint = _fingerprint(request)
        now = timezone.now()
        row = IdempotencyKey(
            user=user,
            key=key,
            method=request.method or "",
            path=request.get_full_path()[:500],
            request_hash=fingerprint,
            status_code=0,
            content_type="",
            created_at=now,
        )
        for _attempt in range(2):
            try:
                # A savepoint: the insert waits while another transaction holds the key, and fails once it
                # committed it; the failure must not spoil the request's transaction.
                with transaction.atomic():
                    row.save(force_insert=True)
            except IntegrityError:
                stored = IdempotencyKey.objects.filter(user=user, key=key).first()
                if stored is None:  # its holder rolled back, or it was pruned just now: claim it again
                    continue
                if stored.created_at < now - dt.timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS):
                    stored.delete()  # expired, not yet pruned: the key is new again
                    continue
                if stored.request_hash != fingerprint:
                    raise ValidationFailed(
                        f"{HEADER} {key!r} was used for another request ({stored.method} {stored.path} at "
                        f"{stored.created_at:%Y-%m-%d %H:%M:%S} UTC); send a new key for a new request",
                        field=HEADER,
                        value=key,
                    ) from None
                return _replay(stored)
            else:
                setattr(request, _PENDING, row)
                return handler(request, *args, **kwargs)
        raise ValidationFailed(f"{HEADER} {key!r} is in use; retry the request", field=HEADER, value=key)

    return claimed


def _run_wrap(run: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(run)
    def atomic_run(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if HEADER not in request.headers:
            return run(request, *args, **kwargs)
        with transaction.atomic():
            response = run(request, *args, **kwargs)
            row = request.__dict__.pop(_PENDING, None)
            if not 200 <= response.status_code < 300:
                # A refused request writes nothing, its key included (a handler error was already turned into
                # this answer, so the transaction would otherwise commit whatever ran before it).
                transaction.set_rollback(True)
            elif row is not None:
                row.status_code = response.status_code
                row.content_type = response.get("Content-Type", "application/json")[:100]
                row.response_body = response.content.decode()
                row.location = response.get("Location", "")[:500]
                row.save(update_fields=["status_code", "content_type", "response_body", "location"])
        return response

    return atomic_run


def idempotency_keys_prune(*, now: dt.datetime | None = None) -> int:
    """Delete the keys older than IDEMPOTENCY_KEY_HOURS; return how many went."""
    from tandem.core.models import IdempotencyKey

    cutoff = (now or timezone.now()) - dt.timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def idempotency_keys_erase_person(*, needles: Collection[str]) -> int:
    """Delete the stored answers that mention an erased person (a retry after it runs as a new request)."""
    from tandem.core.erasure import rows_mentioning
    from tandem.core.models import IdempotencyKey

    rows = rows_mentioning(rows=IdempotencyKey.objects.all(), needles=needles, text=["response_body"])
    deleted, _ = IdempotencyKey.objects.filter(pk__in=list(rows.values_list("pk", flat=True))).delete()
    return deleted
