"""Versioned specs: rows never edited, only superseded by the next version; one way to publish and read them."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import event_record


class Versioned(models.Model):
    """One version of something an admin publishes; the highest version (within its scope) is in force."""

    # Unique on its own; a model versioned per scope (e.g. per stage) overrides it and adds a unique constraint.
    version = models.PositiveIntegerField(unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set by spec_publish rather than auto_now_add, so the row and its event carry the same moment.
    created_at = models.DateTimeField()

    class Meta:
        abstract = True
        ordering = ["-version"]


class VersionedSpec(Versioned):
    """A version whose rules are one JSON document (a pure module's to_dict()), with why it was published."""

    # The whole document, so old versions stay readable and replayable.
    spec = models.JSONField()
    reason = models.TextField(blank=True, default="")

    class Meta(Versioned.Meta):
        abstract = True


V = TypeVar("V", bound=Versioned)

CONFLICT_MESSAGE = "Someone published a version at the same moment; reload and try again."


def spec_current(*, model: type[V], scope: Mapping[str, Any] | None = None) -> V | None:
    """The version in force: the highest of `model` within `scope`, or None when none is published."""
    return model._default_manager.filter(**(scope or {})).order_by("-version").first()


def spec_publish(
    *,
    model: type[V],
    spec: Mapping[str, Any],
    reason: str,
    by_user: Any,
    event_kind: str,
    rule: str,
    validate: Callable[[Mapping[str, Any], int], Mapping[str, Any]],
    scope: Mapping[str, Any] | None = None,
    event_data: Callable[[V, V | None], dict[str, Any]] | None = None,
    conflict_message: str = CONFLICT_MESSAGE,
    unchanged: Literal["publish", "return", "refuse"] = "publish",
) -> V:
    """Store `spec` as the next version of `model` within `scope`, with an event saying who, why and which version."""
    # The caller's hooks: validate(spec, version) refuses with ValidationFailed or returns the columns to store
    # (it gets the version because the pure specs carry their own); event_data(row, previous) is the event's data.
    # `unchanged`: what a spec equal to the version in force does. A retried request must not publish a copy:
    # "return" answers the version in force (PUT-like saves), "refuse" is a 409 naming it.
    if not isinstance(spec, Mapping):
        raise ValidationFailed("The spec must be a JSON object.", field="spec", value=spec)
    # PostgreSQL stores no NUL in text or JSON: refused here, naming the field, not as a database error.
    if "\x00" in (reason or ""):
        raise ValidationFailed("reason must not contain NUL characters", field="reason", value=reason[:80])
    if "\\u0000" in json.dumps(spec, default=str):
        raise ValidationFailed("spec must not contain NUL characters", field="spec", value="\\u0000")
    scope = dict(scope or {})
    reason = (reason or "").strip()
    # The version is the service's to number; two publishers racing for it meet the unique constraint.
    try:
        with transaction.atomic():
            previous = spec_current(model=model, scope=scope)
            if unchanged != "publish" and previous is not None and _same(validate(spec, previous.version), previous):
                if unchanged == "return":
                    return previous
                raise NotAllowed(
                    f"Nothing changed: version {previous.version} in force already says exactly this.",
                    field="spec",
                    value=previous.version,
                )
            version = (previous.version if previous else 0) + 1
            columns = dict(validate(spec, version))
            if issubclass(model, VersionedSpec):
                columns["reason"] = reason
            row = model._default_manager.create(
                **scope,
                **columns,
                version=version,
                created_by=by_user if getattr(by_user, "pk", None) else None,
                created_at=timezone.now(),
            )
            event_record(
                kind=event_kind,
                subject=row,
                actor=by_user,
                rule=rule,
                rule_version=row.version,
                reason=reason,
                data=event_data(row, previous) if event_data else None,
            )
    except IntegrityError as exc:
        raise NotAllowed(
            conflict_message, field="version", value=", ".join(map(str, scope.values())) if scope else version
        ) from exc
    return row


def _plain(value: Any) -> Any:
    """The value as JSON gives it back (tuples as lists, keys as strings), so stored and new specs compare."""
    return json.loads(json.dumps(value, default=str, sort_keys=True))


def _same(columns: Mapping[str, Any], row: Versioned) -> bool:
    """Whether `row` already stores these columns."""
    return all(_plain(value) == _plain(getattr(row, name)) for name, value in columns.items())
