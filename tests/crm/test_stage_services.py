from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from tandem.core.errors import NotAllowed
from tandem.crm.models import Person, StageChange
from tandem.crm.services import Transition, people_change_stage_bulk, person_change_stage
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory

T0 = dt.datetime(2025, 5, 1, 12, 0, tzinfo=dt.UTC)


def test_person_create_records_first_stage(db):
    # given / when
    person = PersonFactory()
    # then
    change = StageChange.objects.get(person=person)
    assert (change.from_stage, change.to_stage) == ("", "lead")
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "lead"


def test_change_stage_records_who_why_and_rule_version(db):
    # given
    person = PersonFactory()
    rep = UserFactory()
    # when
    person_change_stage(
        person=person, to_stage="mql", at=T0, rule="mql-definition", rule_version=3, reason="score 80 >= 70"
    )
    person_change_stage(
        person=person, to_stage="sal", at=T0 + dt.timedelta(hours=2), by_user=rep, reason="accepted"
    )
    # then
    rows = list(
        StageChange.objects.filter(person=person)
        .order_by("changed_at")
        .values_list("from_stage", "to_stage", "rule", "rule_version", "by_user_id", "reason")
    )
    assert rows[1:] == [
        ("lead", "mql", "mql-definition", 3, None, "score 80 >= 70"),
        ("mql", "sal", "", None, rep.pk, "accepted"),
    ]
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "sal"


def test_refused_move_changes_nothing(db):
    # given
    person = PersonFactory(stage="customer")
    before = StageChange.objects.count()
    # when
    with pytest.raises(NotAllowed, match="from Customer to Lead is not allowed"):
        person_change_stage(person=person, to_stage="lead")
    # then
    assert StageChange.objects.count() == before
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "customer"


def test_bulk_applies_each_persons_moves_in_time_order(db):
    # given
    a, b = PersonFactory(), PersonFactory()
    # when
    n = people_change_stage_bulk(
        transitions=[
            Transition(person_id=a.pk, to_stage="customer", at=T0 + dt.timedelta(days=9)),
            Transition(person_id=a.pk, to_stage="opportunity", at=T0),
            Transition(person_id=b.pk, to_stage="mql", at=T0),
        ]
    )
    # then
    assert n == 3
    assert list(StageChange.objects.filter(person=a).values_list("from_stage", "to_stage")) == [
        ("", "lead"),
        ("lead", "opportunity"),
        ("opportunity", "customer"),
    ]
    assert dict(Person.objects.filter(pk__in=[a.pk, b.pk]).values_list("pk", "lifecycle_stage")) == {
        a.pk: "customer",
        b.pk: "mql",
    }


def test_bulk_refusal_writes_nothing(db):
    # given
    a, b = PersonFactory(), PersonFactory(stage="customer")
    before = StageChange.objects.count()
    # when
    with pytest.raises(NotAllowed):
        people_change_stage_bulk(
            transitions=[
                Transition(person_id=a.pk, to_stage="mql", at=T0),
                Transition(person_id=b.pk, to_stage="lead", at=T0),
            ]
        )
    # then
    assert StageChange.objects.count() == before
    assert Person.objects.get(pk=a.pk).lifecycle_stage == "lead"


def test_only_crms_stage_service_writes_the_stage_field():
    # given every Python file of the product
    src = Path(__file__).resolve().parents[2] / "src" / "tandem"
    writers = []
    # attribute assignment, queryset .update(lifecycle_stage=...), or bulk_update naming the field
    pattern = re.compile(
        r"\.lifecycle_stage\s*=(?!=)|update\(.*lifecycle_stage\s*=|bulk_update\(.*lifecycle_stage"
    )
    for path in src.rglob("*.py"):
        if "migrations" in path.parts or (path.name == "services.py" and path.parent.name == "crm"):
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code):
                writers.append(f"{path.relative_to(src)}:{lineno}")
    # then
    assert writers == []
