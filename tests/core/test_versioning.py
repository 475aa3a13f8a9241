"""spec_publish and spec_current: numbering, who and why, the event, and refusals that leave nothing behind.

The concrete tables are ones that use the shared versioning: SlaPolicyVersion (one spec document, unscoped),
DefinitionVersion (numbered per stage) and ScoringConfig (its rules in columns, no reason).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

import tandem.core.versioning as versioning
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tandem.core.versioning import spec_current, spec_publish
from tandem.lifecycle.models import DefinitionVersion, SlaPolicyVersion
from tandem.scoring.models import ScoringConfig
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _numbered(given: Mapping[str, Any], version: int) -> dict[str, Any]:
    return {"spec": {**given, "version": version}}


def _publish_sla(spec: Any, *, reason: str = "Faster follow-up", by_user: Any = None, **options: Any) -> SlaPolicyVersion:
    options.setdefault("validate", _numbered)
    return spec_publish(
        model=SlaPolicyVersion, spec=spec, reason=reason, by_user=by_user, event_kind="test.published", rule="test", **options
    )


def _snapshot() -> tuple[list[tuple[str, int, Any]], list[int], list[tuple[int, Any]], list[int]]:
    return (
        list(DefinitionVersion.objects.order_by("stage", "version").values_list("stage", "version", "spec")),
        list(SlaPolicyVersion.objects.order_by("version").values_list("version", flat=True)),
        list(ScoringConfig.objects.order_by("version").values_list("version", "fit")),
        list(Event.objects.order_by("id").values_list("id", flat=True)),
    )


def test_the_first_publish_is_version_one_with_who_why_and_an_event() -> None:
    # given no SLA policy published and an admin
    admin = UserFactory(username="admin1")
    # when a spec is published with a reason padded by spaces
    row = _publish_sla({"first_touch_hours": 2}, reason="  Faster follow-up  ", by_user=admin)
    # then it is version 1, stored as the hook returned it, with who and the trimmed why
    stored = SlaPolicyVersion.objects.get()
    assert (stored.pk, stored.version, stored.spec) == (row.pk, 1, {"first_touch_hours": 2, "version": 1})
    assert (stored.reason, stored.created_by_id) == ("Faster follow-up", admin.pk)
    # and one event names the row, the actor, the rule, the version and the why
    event = Event.objects.get(kind="test.published")
    assert (event.subject_type, event.subject_id, event.actor_id) == ("lifecycle.slapolicyversion", row.pk, admin.pk)
    assert (event.rule, event.rule_version, event.reason, event.data) == ("test", 1, "Faster follow-up", {})


def test_the_next_version_follows_the_highest_and_is_the_current_one() -> None:
    # given versions 1 and 2
    _publish_sla({"first_touch_hours": 2})
    _publish_sla({"first_touch_hours": 3})
    # when a third is published
    row = _publish_sla({"first_touch_hours": 4})
    # then it is version 3 and the current one
    current = spec_current(model=SlaPolicyVersion)
    assert row.version == 3
    assert current is not None
    assert (current.pk, current.spec) == (row.pk, {"first_touch_hours": 4, "version": 3})
    assert list(SlaPolicyVersion.objects.values_list("version", flat=True)) == [3, 2, 1]


def test_spec_current_is_none_before_anything_is_published() -> None:
    # given no SLA policy
    # when the current one is read
    current = spec_current(model=SlaPolicyVersion)
    # then there is none
    assert current is None


def test_versions_are_numbered_within_their_scope() -> None:
    # given the seeded v1 of both the MQL and the SQL definition
    assert list(DefinitionVersion.objects.order_by("stage").values_list("stage", "version")) == [("mql", 1), ("sql", 1)]
    # when two SQL versions are published
    spec_publish(
        model=DefinitionVersion, scope={"stage": "sql"}, spec={"any": []}, reason="Tighter", by_user=None,
        event_kind="test.published", rule="test:sql", validate=_numbered,
    )
    row = spec_publish(
        model=DefinitionVersion, scope={"stage": "sql"}, spec={"any": []}, reason="Tighter again", by_user=None,
        event_kind="test.published", rule="test:sql", validate=_numbered,
    )
    # then SQL reaches v3 with its scope stored, and MQL stays at v1
    assert (row.stage, row.version) == ("sql", 3)
    assert spec_current(model=DefinitionVersion, scope={"stage": "sql"}).pk == row.pk  # type: ignore[union-attr]
    assert spec_current(model=DefinitionVersion, scope={"stage": "mql"}).version == 1  # type: ignore[union-attr]


def test_the_hook_gets_the_spec_and_the_next_version_and_the_event_data_the_row_and_the_previous() -> None:
    # given version 1
    first = _publish_sla({"first_touch_hours": 2})
    seen: list[tuple[dict[str, Any], int]] = []

    def validate(given: Mapping[str, Any], version: int) -> dict[str, Any]:
        seen.append((dict(given), version))
        return {"spec": {"hours": given["first_touch_hours"]}}

    def event_data(row: SlaPolicyVersion, previous: SlaPolicyVersion | None) -> dict[str, Any]:
        return {"version": row.version, "previous": previous.version if previous else None}

    # when version 2 is published with both hooks
    row = _publish_sla({"first_touch_hours": 5}, validate=validate, event_data=event_data)
    # then the hook saw the spec as given and version 2, and the event holds what event_data returned
    assert seen == [({"first_touch_hours": 5}, 2)]
    assert (row.version, row.spec) == (2, {"hours": 5})
    assert Event.objects.filter(kind="test.published").order_by("-id").values_list("data", flat=True)[0] == {
        "version": 2,
        "previous": first.version,
    }


def test_a_spec_refused_by_the_hook_writes_nothing() -> None:
    # given version 1
    _publish_sla({"first_touch_hours": 2})
    before = _snapshot()

    def refuse(given: Mapping[str, Any], version: int) -> dict[str, Any]:
        raise ValidationFailed("first_touch_hours must be positive.", field="first_touch_hours", value=given["first_touch_hours"])

    # when a spec the hook refuses is published
    with pytest.raises(ValidationFailed) as caught:
        _publish_sla({"first_touch_hours": 0}, validate=refuse)
    # then the hook's error comes out unchanged and nothing changed
    assert (caught.value.message, caught.value.field, caught.value.value) == ("first_touch_hours must be positive.", "first_touch_hours", 0)
    assert _snapshot() == before


def test_a_spec_that_is_not_a_json_object_is_refused_by_name_and_writes_nothing() -> None:
    # given no SLA policy
    before = _snapshot()
    # when a list is published as the spec
    with pytest.raises(ValidationFailed) as caught:
        _publish_sla([1, 2])
    # then it is refused naming the field and the value, and nothing changed
    assert (caught.value.message, caught.value.field, caught.value.value) == ("The spec must be a JSON object.", "spec", [1, 2])
    assert _snapshot() == before


def test_a_version_taken_at_the_same_moment_is_refused_and_writes_nothing() -> None:
    # given version 1, and another publisher that takes version 2 while this one validates
    _publish_sla({"first_touch_hours": 2})
    before = _snapshot()

    def racing(given: Mapping[str, Any], version: int) -> dict[str, Any]:
        SlaPolicyVersion.objects.create(version=version, spec={}, created_at=timezone.now())
        return {"spec": dict(given)}

    # when this publisher stores its version 2
    with pytest.raises(NotAllowed) as caught:
        _publish_sla({"first_touch_hours": 3}, validate=racing)
    # then it is told to reload, naming the version it lost, and nothing changed
    assert (caught.value.message, caught.value.field, caught.value.value) == (
        "Someone published a version at the same moment; reload and try again.",
        "version",
        2,
    )
    assert _snapshot() == before


def test_a_scoped_race_names_the_scope_with_the_callers_message() -> None:
    # given the seeded SQL v1, and another publisher that takes SQL v2 meanwhile
    before = _snapshot()

    def racing(given: Mapping[str, Any], version: int) -> dict[str, Any]:
        DefinitionVersion.objects.create(stage="sql", version=version, spec={}, created_at=timezone.now())
        return {"spec": dict(given)}

    # when this publisher stores its SQL v2
    with pytest.raises(NotAllowed) as caught:
        spec_publish(
            model=DefinitionVersion, scope={"stage": "sql"}, spec={"any": []}, reason="Tighter", by_user=None,
            event_kind="test.published", rule="test:sql", validate=racing, conflict_message="Reload the definition.",
        )
    # then the caller's message names the stage, and nothing changed
    assert (caught.value.message, caught.value.field, caught.value.value) == ("Reload the definition.", "version", "sql")
    assert _snapshot() == before


def test_a_versioned_model_without_a_spec_column_stores_the_hooks_columns_and_keeps_the_reason_in_the_event() -> None:
    # given no saved scoring rules and a user
    user = UserFactory(username="scorer")
    # when rules are published to ScoringConfig, whose rules live in three columns and which has no reason
    row = spec_publish(
        model=ScoringConfig,
        spec={"fit": {"rules": []}, "engagement": {}, "cutoff_days": 3.0},
        reason="Shorter cut-off",
        by_user=user,
        event_kind="test.published",
        rule="test",
        validate=lambda given, _version: given,
    )
    # then the columns hold the spec, and the why is in the event only
    stored = ScoringConfig.objects.get()
    assert (stored.version, stored.fit, stored.engagement, stored.cutoff_days) == (1, {"rules": []}, {}, 3.0)
    assert (stored.pk, stored.created_by_id) == (row.pk, user.pk)
    event = Event.objects.get(kind="test.published")
    assert (event.subject_type, event.subject_id, event.rule_version, event.reason) == ("scoring.scoringconfig", row.pk, 1, "Shorter cut-off")


def test_an_anonymous_publisher_is_recorded_as_nobody() -> None:
    # given a user object that was never saved (no primary key)
    ghost = UserFactory.build(username="ghost")
    # when it publishes
    row = _publish_sla({"first_touch_hours": 2}, by_user=ghost)
    # then neither the row nor the event points at a user
    event = Event.objects.get(kind="test.published")
    assert (row.created_by_id, event.actor_id) == (None, None)


def test_core_versioning_imports_only_django_and_core() -> None:
    # given the module's source
    tree = ast.parse(Path(versioning.__file__).read_text())
    # when its imports are listed
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    # then no other tandem app is imported
    assert sorted(m for m in modules if m.startswith("tandem.") and not m.startswith("tandem.core.")) == []


def test_a_nul_in_the_reason_or_the_spec_is_refused_and_nothing_is_written(db):
    # given no SLA policy yet (PostgreSQL cannot store NUL in text or JSON)
    from tandem.core.errors import ValidationFailed
    from tandem.core.models import Event
    from tandem.lifecycle.services import sla_policy_publish

    # when a reason or a spec value holds a NUL
    with pytest.raises(ValidationFailed) as in_reason:
        sla_policy_publish(spec={}, reason="why\x00", by_user=None)
    with pytest.raises(ValidationFailed) as in_spec:
        sla_policy_publish(spec={"note": "a\x00b"}, reason="why", by_user=None)
    # then both are refused naming the field, and no version or event was written
    assert (in_reason.value.field, in_spec.value.field) == ("reason", "spec")
    assert (SlaPolicyVersion.objects.count(), Event.objects.count()) == (0, 0)
