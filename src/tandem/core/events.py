"""Writing to the event log: the one helper every service calls after a state change."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from tandem.core.models import Event


def event_record(
    *,
    kind: str,
    subject: Any = None,
    subject_type: str = "",
    subject_id: int | None = None,
    actor: Any = None,
    rule: str = "",
    rule_version: int | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
    occurred_at: dt.datetime | None = None,
) -> Event:
    """Append one event row describing a state change."""
    if subject is not None:
        subject_type = subject_type or subject._meta.label_lower
        subject_id = subject.pk
    return Event.objects.create(
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        actor=actor if getattr(actor, "pk", None) else None,
        rule=rule,
        rule_version=rule_version,
        reason=reason,
        data=data or {},
        occurred_at=occurred_at or timezone.now(),
    )
