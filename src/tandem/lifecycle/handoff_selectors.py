"""Reads for the hand-off: the current definitions and their history, in plain words."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tandem.lifecycle.criteria import DEFINITION_NAMES, Definition, definition_changes, definition_describe
from tandem.lifecycle.models import DefinitionVersion


@dataclass(frozen=True)
class VersionView:
    """One definition version as the definitions page shows it."""

    stage: str
    version: int
    definition: Definition
    sentences: list[str]
    changes: list[str]
    reason: str
    created_by: str
    created_at: Any
    spec: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "version": self.version,
            "sentences": self.sentences,
            "changes": self.changes,
            "reason": self.reason,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "spec": self.spec,
        }


def definition_current(*, stage: str) -> Definition | None:
    """The current (latest) version of the MQL or SQL definition, or None when none is published."""
    row = DefinitionVersion.objects.filter(stage=stage).order_by("-version").only("spec").first()
    return Definition.from_dict(row.spec) if row else None


def definitions_history(*, stage: str | None = None) -> dict[str, list[VersionView]]:
    """Every version per stage, newest first, each with its sentences and what changed from the one before."""
    stages = [stage] if stage else list(DEFINITION_NAMES)
    rows = DefinitionVersion.objects.filter(stage__in=stages).select_related("created_by").order_by("stage", "version")
    out: dict[str, list[VersionView]] = {s: [] for s in stages}
    previous: dict[str, Definition] = {}
    for row in rows:
        definition = Definition.from_dict(row.spec)
        before = previous.get(row.stage)
        user = row.created_by
        out[row.stage].append(
            VersionView(
                stage=row.stage,
                version=row.version,
                definition=definition,
                sentences=definition_describe(definition),
                changes=definition_changes(before, definition) if before else [],
                reason=row.reason,
                created_by=(user.get_full_name() or user.username) if user else "Tandem",
                created_at=row.created_at,
                spec=row.spec,
            )
        )
        previous[row.stage] = definition
    for versions in out.values():
        versions.reverse()
    return out
