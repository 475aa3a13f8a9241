"""Writes for the hand-off: publishing definition versions and promoting people who meet the MQL definition."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import event_record
from tandem.lifecycle.criteria import DEFINITION_NAMES, Definition, definition_changes
from tandem.lifecycle.models import DefinitionVersion


def definition_publish(*, stage: str, spec: Mapping[str, Any], reason: str, by_user: Any) -> DefinitionVersion:
    """Validate a definition and store it as the next version of its stage, with who and why."""
    if stage not in DEFINITION_NAMES:
        raise ValidationFailed("A definition is for 'mql' or 'sql'.", field="stage", value=stage)
    if not isinstance(spec, Mapping):
        raise ValidationFailed("A definition must be a JSON object.", field="spec", value=spec)
    if not (reason or "").strip():
        raise ValidationFailed("Say why the definition changes (it goes into the history).", field="reason", value=reason)
    named = spec.get("name")
    if named not in (None, "", stage):
        raise ValidationFailed(f"This definition is named {named!r} but is published as {stage!r}.", field="name", value=named)
    try:
        with transaction.atomic():
            latest = DefinitionVersion.objects.filter(stage=stage).aggregate(v=Max("version"))["v"] or 0
            # The version is the service's to number: whatever the JSON says is replaced.
            definition = Definition.from_dict({**spec, "name": stage, "version": latest + 1})
            previous = DefinitionVersion.objects.filter(stage=stage, version=latest).first()
            row = DefinitionVersion.objects.create(
                stage=stage,
                version=definition.version,
                spec=definition.to_dict(),
                reason=reason.strip(),
                created_by=by_user if getattr(by_user, "pk", None) else None,
                created_at=timezone.now(),
            )
            changes = definition_changes(Definition.from_dict(previous.spec), definition) if previous else []
            event_record(
                kind="definition.published",
                subject=row,
                actor=by_user,
                rule=f"definition:{stage}",
                rule_version=row.version,
                reason=row.reason,
                data={"stage": stage, "version": row.version, "changes": changes},
            )
    except IntegrityError as exc:
        raise NotAllowed(
            "Someone published a version of this definition at the same moment; reload and try again.",
            field="version",
            value=stage,
        ) from exc
    return row
