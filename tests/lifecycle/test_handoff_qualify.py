"""Automatic promotion to MQL against the current definition, its receipt, and the capture hook."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tandem.campaigns.models import Touchpoint
from tandem.core.models import Event
from tandem.crm.models import Person, StageChange
from tandem.crm.services import person_change_stage, person_update
from tandem.lifecycle.services import (
    definition_publish,
    people_facts,
    people_qualify,
    people_qualify_recent,
)
from tandem.scoring.models import PersonScore
from tests.capture.factories import make_form
from tests.crm.factories import AccountFactory, PersonFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def _touch(person: Person, days_ago: float, kind: str = "page_view", channel: str = "email") -> None:
    Touchpoint.objects.create(person=person, occurred_at=NOW - dt.timedelta(days=days_ago), kind=kind, channel=channel)


def _promotion(person: Person) -> StageChange:
    return StageChange.objects.get(person=person, to_stage="mql")


def test_leads_meeting_v1_are_promoted_with_the_version_and_matched_criteria() -> None:
    # given a lead with a demo request 5 days ago, one with 3 visits in 30 days, one with 2, one already SAL
    demo, busy, quiet, sal = (PersonFactory() for _ in range(4))
    _touch(demo, 5, kind="demo_request")
    for days in (1, 10, 30):  # 30 days ago is inside the closed window
        _touch(busy, days)
    _touch(quiet, 1)
    _touch(quiet, 31)
    person_change_stage(person=sal, to_stage="sal")
    _touch(sal, 1, kind="demo_request")
    # when they are qualified
    promoted = people_qualify(person_ids=[demo.pk, busy.pk, quiet.pk, sal.pk], as_of=NOW)
    # then the first two become MQLs with a receipt naming v1 and what matched; the others stay
    assert sorted(promoted) == sorted([demo.pk, busy.pk])
    receipt = _promotion(demo)
    assert (receipt.from_stage, receipt.rule, receipt.rule_version, receipt.changed_at) == ("lead", "definition:mql", 1, NOW)
    assert [m["id"] for m in receipt.details["matched"]] == ["demo"]
    assert [m["id"] for m in _promotion(busy).details["matched"]] == ["engaged"]
    stages = dict(Person.objects.filter(pk__in=[quiet.pk, sal.pk]).values_list("pk", "lifecycle_stage"))
    assert stages == {quiet.pk: "lead", sal.pk: "sal"}
    # and qualifying again changes nothing (they are no longer leads)
    assert people_qualify(person_ids=[demo.pk, busy.pk], as_of=NOW) == []


def test_a_person_promoted_under_v1_keeps_the_v1_receipt_after_v2() -> None:
    # given a person promoted under v1
    first, second = PersonFactory(), PersonFactory()
    _touch(first, 2, kind="demo_request")
    people_qualify(person_ids=[first.pk], as_of=NOW)
    # when v2 asks for a webinar instead, and a second person meets v2
    definition_publish(
        stage="mql",
        spec={"any": [{"id": "webinar", "type": "touchpoint", "kinds": ["webinar"], "days": 60}]},
        reason="Webinars convert better",
        by_user=None,
    )
    _touch(second, 40, kind="webinar")
    _touch(second, 1, kind="demo_request")
    people_qualify(person_ids=[first.pk, second.pk], as_of=NOW)
    # then the first receipt still says v1 / demo, the second says v2 / webinar
    old, new = _promotion(first), _promotion(second)
    assert (old.rule_version, [m["id"] for m in old.details["matched"]]) == (1, ["demo"])
    assert (new.rule_version, [m["id"] for m in new.details["matched"]]) == (2, ["webinar"])


def test_facts_come_from_the_account_custom_fields_and_scores() -> None:
    # given a definition on industry, a custom field and the fit grade, and two people differing in grade
    definition_publish(
        stage="mql",
        spec={
            "all": [
                {"id": "industry", "type": "field_in", "field": "industry", "values": ["Software"]},
                {"id": "budget", "type": "number", "field": "budget", "op": ">=", "value": 1000},
                {"id": "grade", "type": "fit_grade", "op": ">=", "grade": "B"},
            ]
        },
        reason="Profile only",
        by_user=None,
    )
    account = AccountFactory(industry="software", custom_fields={"tier": "gold"})
    good, weak = PersonFactory(account=account), PersonFactory(account=account)
    Person.objects.filter(pk__in=[good.pk, weak.pk]).update(custom_fields={"budget": "2500"})
    PersonScore.objects.create(person=good, fit_grade="A", engagement=12.5, scored_at=NOW)
    PersonScore.objects.create(person=weak, fit_grade="C", scored_at=NOW)
    # when the facts are read and the people qualified
    facts = people_facts(person_ids=[good.pk])[good.pk]
    promoted = people_qualify(person_ids=[good.pk, weak.pk], as_of=NOW)
    # then the facts hold the account, custom and score values, and only grade A qualifies
    assert (facts["industry"], facts["budget"], facts["account.tier"], facts["fit_grade"], facts["engagement_score"]) == (
        "software", "2500", "gold", "A", 12.5,
    )
    assert promoted == [good.pk]
    assert [m["id"] for m in _promotion(good).details["matched"]] == ["industry", "budget", "grade"]


def test_a_recycled_person_requalifies_only_on_activity_after_recycling() -> None:
    # given a person recycled 3 days ago after a demo request 10 days ago
    person = PersonFactory()
    _touch(person, 10, kind="demo_request")
    person_change_stage(person=person, to_stage="recycled", at=NOW - dt.timedelta(days=3))
    # when qualified now, then again after a fresh demo request
    before = people_qualify(person_ids=[person.pk], as_of=NOW)
    _touch(person, 1, kind="demo_request")
    after = people_qualify(person_ids=[person.pk], as_of=NOW)
    # then the old request does not count, the new one does
    assert (before, after) == ([], [person.pk])
    assert _promotion(person).from_stage == "recycled"


def test_the_sweep_promotes_people_with_touchpoints_captured_since_the_last_one(settings: Any) -> None:
    # given a demo-request form processed inline, an old demo request, and a first sweep setting the watermark
    settings.CAPTURE_PROCESSING = "inline"
    form = make_form(touchpoint_kind="demo_request")
    old = PersonFactory()
    _touch(old, 0, kind="demo_request")
    first = people_qualify_recent()
    # when someone submits the form and the sweep runs twice
    response = Client().post(
        f"/api/capture/forms/{form.public_key}/submissions",  # type: ignore[attr-defined]
        data=json.dumps({"email": "ann@example.com", "first_name": "Ann"}),
        content_type="application/json",
    )
    person = Person.objects.get(email="ann@example.com")
    stage_before = person.lifecycle_stage
    second, third = people_qualify_recent(), people_qualify_recent()
    # then the first sweep only sets the watermark, the second promotes the new person (not the old one)
    # under v1 because of the demo request, and the third finds nothing new
    assert response.status_code == 201
    assert (first, stage_before, second, third) == ([], "lead", [person.pk], [])
    receipt = _promotion(person)
    assert (receipt.rule, [m["id"] for m in receipt.details["matched"]]) == ("definition:mql", ["demo"])
    assert Person.objects.get(pk=old.pk).lifecycle_stage == "lead"


def _title_definition() -> None:
    definition_publish(
        stage="mql",
        spec={
            "all": [
                {"id": "title", "type": "title_keywords", "keywords": ["director"]},
                {"id": "grade", "type": "fit_grade", "op": ">=", "grade": "B"},
            ]
        },
        reason="Profile and fit only",
        by_user=None,
    )


def test_a_profile_edit_that_meets_the_definition_promotes_at_the_next_sweep() -> None:
    # given a definition on job title and fit grade, a lead with grade A but the wrong title, and a first sweep
    _title_definition()
    person = PersonFactory(job_title="Analyst")
    PersonScore.objects.create(person=person, fit_grade="A", scored_at=NOW)
    untouched = PersonFactory(job_title="Director of Sales")  # meets it, but nothing about them changes
    Person.objects.filter(pk=untouched.pk).update(updated_at=NOW - dt.timedelta(days=1))
    PersonScore.objects.create(person=untouched, fit_grade="A", scored_at=NOW, updated_at=NOW - dt.timedelta(days=1))
    people_qualify_recent()
    # when a user edits the title and the sweep runs
    person_update(person=Person.objects.get(pk=person.pk), job_title="Director of Marketing")
    promoted = people_qualify_recent()
    # then the edited person is promoted with the version and the matched criteria; the other is left alone
    assert promoted == [person.pk]
    receipt = _promotion(person)
    assert (receipt.rule_version, [m["id"] for m in receipt.details["matched"]]) == (2, ["title", "grade"])
    assert Person.objects.get(pk=untouched.pk).lifecycle_stage == "lead"
    sweep = Event.objects.filter(kind="lifecycle.qualify_sweep").order_by("-id").first()
    assert sweep is not None and (sweep.data["by_profile"], sweep.data["promoted"]) == (1, 1)


def test_a_score_change_that_meets_the_definition_promotes_at_the_next_sweep() -> None:
    # given the title definition, a director scored C long ago, and a first sweep
    _title_definition()
    person = PersonFactory(job_title="Director of IT")
    Person.objects.filter(pk=person.pk).update(updated_at=NOW - dt.timedelta(days=1))
    PersonScore.objects.create(person=person, fit_grade="C", scored_at=NOW, updated_at=NOW - dt.timedelta(days=1))
    people_qualify_recent()
    before = people_qualify_recent()
    # when the person is rescored to grade B (the scoring app stamps updated_at on every write; scored_at is
    # the score's as-of time and may lie in the past) and the sweep runs
    PersonScore.objects.filter(person=person).update(fit_grade="B", scored_at=NOW, updated_at=timezone.now())
    after = people_qualify_recent()
    # then nothing happened before the rescore, and the rescored person is promoted with the receipt
    assert (before, after) == ([], [person.pk])
    assert [m["id"] for m in _promotion(person).details["matched"]] == ["title", "grade"]


def test_the_sweep_costs_four_queries_and_writes_nothing_when_nothing_changed(django_assert_num_queries: Any) -> None:
    # given leads last changed a day ago and a first sweep
    for _ in range(3):
        person = PersonFactory()
        Person.objects.filter(pk=person.pk).update(updated_at=NOW - dt.timedelta(days=1))
    people_qualify_recent()
    sweeps = Event.objects.filter(kind="lifecycle.qualify_sweep").count()
    # when it runs again with nothing new
    with django_assert_num_queries(4):  # the watermarks, touchpoints, profiles, scores
        promoted = people_qualify_recent()
    # then nobody is evaluated and no sweep event is written
    assert promoted == []
    assert Event.objects.filter(kind="lifecycle.qualify_sweep").count() == sweeps
