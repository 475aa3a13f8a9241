"""Seed version 1 of the MQL and SQL definitions, so a fresh install has a common language to start from."""

from typing import Any

from django.db import migrations
from django.utils import timezone


def _touch(cid: str, kind: str | None, days: int, min_count: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"id": cid, "type": "touchpoint" if min_count is None else "touchpoint_count", "days": days}
    if min_count is not None:
        out["min_count"] = min_count
    out.update(kinds=[kind] if kind else [], channels=[], campaign_ids=[], label="")
    return out


SEED = {
    "mql": {
        "name": "mql",
        "version": 1,
        "all": [],
        "any": [_touch("demo", "demo_request", 30), _touch("engaged", None, 30, 3)],
        "note": "Starting point: a demo request, or steady engagement. Consent is not required.",
    },
    "sql": {
        "name": "sql",
        "version": 1,
        "all": [_touch("call", "call", 90)],
        "any": [],
        "note": "Sales confirmed the need on a call.",
    },
}


def seed(apps: Any, schema_editor: Any) -> None:
    DefinitionVersion = apps.get_model("lifecycle", "DefinitionVersion")
    for stage, spec in SEED.items():
        if not DefinitionVersion.objects.filter(stage=stage).exists():
            DefinitionVersion.objects.create(
                stage=stage, version=1, spec=spec, reason="Initial definition installed with Tandem.", created_at=timezone.now()
            )


def unseed(apps: Any, schema_editor: Any) -> None:
    apps.get_model("lifecycle", "DefinitionVersion").objects.filter(version=1, created_by=None).delete()


class Migration(migrations.Migration):
    dependencies = [("lifecycle", "0003_definition_versions")]

    operations = [migrations.RunPython(seed, unseed)]
