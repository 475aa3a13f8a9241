"""Each service that changes state emits its webhook, and every message matches its catalog schema."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from tandem.crm.agenda.services import task_create
from tandem.crm.services import activity_log, deal_close, person_merge, person_update
from tandem.enablement.requests.services import collateral_request_file, collateral_request_move
from tandem.feedback.services import question_record
from tandem.lifecycle.services import mql_accept, mql_reject, tasks_overdue_notify
from tandem.privacy.services import person_erase
from tandem.webhooks.catalog import EVENT_TYPES, envelope_schema
from tandem.webhooks.models import Delivery
from tandem.webhooks.services import endpoint_create
from tests.crm.factories import DealFactory, LostReasonFactory, PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _messages() -> list[dict]:
    return [json.loads(b) for b in Delivery.objects.order_by("id").values_list("body", flat=True)]


def _types() -> list[str]:
    return [m["type"] for m in _messages()]


@pytest.fixture
def hooked():  # type: ignore[no-untyped-def]
    return endpoint_create(url="https://hooks.example/all", event_types="*")


def _valid(messages: list[dict]) -> None:
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    for message in messages:
        validator = jsonschema_rs.Draft202012Validator(envelope_schema(EVENT_TYPES[message["type"]]))
        errors = [e.message for e in validator.iter_errors(message)]
        assert errors == [], (message["type"], errors)


def test_people_emit_created_stage_updated_merged_and_erased(hooked):
    # given / when a person is created, edited, given consent, merged and erased
    admin = UserFactory(role="admin")
    ann = PersonFactory(email="ann@acme.example", first_name="Ann")
    person_update(person=ann, job_title="CTO", by_user=admin)
    person_update(person=ann, consent_email=True, by_user=admin)
    dup = PersonFactory(email="ann.b@acme.example", first_name="Ann")
    Delivery.objects.all().delete()
    person_merge(survivor=ann, duplicate=dup, by_user=admin)
    merged = _messages()
    Delivery.objects.all().delete()
    PersonFactory(email="cy@acme.example")
    person_erase(person=ann, reason="asked by letter", by_user=admin)
    # then
    assert [m["type"] for m in merged] == ["person.merged"]
    assert merged[0]["data"] == {"survivor_id": ann.pk, "duplicate_id": dup.pk}
    erased = _messages()
    assert [m["type"] for m in erased] == ["person.created", "person.stage_changed", "person.erased"]
    assert erased[-1]["data"] == {"id": ann.pk}


def test_person_messages_carry_the_person_and_what_changed(hooked):
    # given
    admin = UserFactory(role="admin")
    ann = PersonFactory(email="ann@acme.example", first_name="Ann")
    # when
    person_update(person=ann, job_title="CTO", by_user=admin)
    person_update(person=ann, consent_email=True, by_user=admin)
    # then
    messages = _messages()
    assert [m["type"] for m in messages] == [
        "person.created",
        "person.stage_changed",
        "person.updated",
        "person.updated",
    ]
    assert (
        messages[0]["data"]["email"] == "ann@acme.example"
        and messages[0]["data"]["lifecycle_stage"] == "lead"
    )
    assert messages[2]["data"]["changes"] == {"job_title": ["Head of Operations", "CTO"]}
    assert messages[3]["data"]["changes"] == {"consent_email": [False, True]}
    assert messages[3]["data"]["consent_email"] is True
    _valid(messages)


def test_deals_emit_stage_changed_and_won_or_lost(hooked):
    # given two open deals
    won, lost = DealFactory(), DealFactory()
    Delivery.objects.all().delete()
    # when one is won and one lost
    deal_close(deal=won, won=True)
    deal_close(deal=lost, won=False, lost_reason=LostReasonFactory(name="No budget"))
    # then (a won deal's person also becomes a customer)
    assert _types() == [
        "deal.stage_changed",
        "deal.won",
        "person.stage_changed",
        "deal.stage_changed",
        "deal.lost",
    ]
    messages = _messages()
    assert messages[4]["data"]["lost_reason"] == "No budget" and messages[4]["data"]["status"] == "lost"
    assert messages[1]["data"]["amount"] == "12000.00"
    _valid(messages)


def test_hand_off_answers_activities_tasks_questions_and_collateral_emit(hooked):
    # given an MQL owned by a rep
    rep = UserFactory(role="sales_rep")
    mql, other = PersonFactory(stage="mql", owner=rep), PersonFactory(stage="mql", owner=rep)
    marketing = UserFactory(role="marketing")
    Delivery.objects.all().delete()
    # when the rep accepts one, rejects the other, logs a call, hears a question, and a task falls due
    mql_accept(person=mql, by_user=rep)
    mql_reject(person=other, by_user=rep, reason_code="no_budget")
    activity_log(person=mql, kind="call", user=rep)
    question_record(person=mql, text="Does it work with SAP?", by_user=rep)
    now = timezone.now()
    task_create(title="Call back", due_at=now + dt.timedelta(minutes=5), by_user=rep, person_id=mql.pk)
    tasks_overdue_notify(now=now + dt.timedelta(hours=1))
    request = collateral_request_file(
        by_user=rep, kind="case_study", purpose="Healthcare case", due_on=dt.date(2099, 1, 1)
    )
    for step in ("accepted", "in_progress", "delivered"):
        collateral_request_move(request_id=request.pk, to=step, by_user=marketing, note="Here it is")
    # then
    assert _types() == [
        "person.stage_changed", "mql.accepted", "person.stage_changed", "mql.rejected", "activity.logged",
        "question.recorded", "task.due", "content.requested", "content.delivered",
    ]  # fmt: skip
    messages = _messages()
    assert messages[3]["data"]["reason_code"] == "no_budget"
    assert messages[5]["data"]["text"] == "Does it work with SAP?"
    assert messages[6]["data"]["title"] == "Call back" and messages[6]["data"]["owner_id"] == rep.pk
    assert (
        messages[8]["data"]["status"] == "delivered" and messages[8]["data"]["delivery_note"] == "Here it is"
    )
    _valid(messages)
