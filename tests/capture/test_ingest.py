"""The capture engines' one bulk writer: people, external ids, touchpoints, journeys and stage moves."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction

from tandem.campaigns.journeys import Touch
from tandem.campaigns.models import Touchpoint
from tandem.capture.ingest import IngestBatch, NewPerson, NewTouchpoint, ingest
from tandem.crm.models import ExternalId, Person, StageChange
from tandem.crm.services import Transition
from tests.campaigns.factories import CampaignFactory, TouchpointFactory
from tests.crm.factories import PersonFactory

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
T0 = dt.datetime(2025, 5, 1, 9, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(days=1)
T2 = T0 + dt.timedelta(days=2)
COLUMNS = ("email", "email_normalized", "first_name", "created_at")
TOUCH_COLUMNS = ("occurred_at", "channel", "campaign_id", "kind")


def _stored(**fields: object) -> Person:
    person = PersonFactory()
    Person.objects.filter(pk=person.pk).update(**fields)
    return Person.objects.get(pk=person.pk)


def _new(email: str) -> NewPerson:
    return NewPerson(values=(email, email, email.split("@")[0].title(), T0))


@pytest.mark.parametrize("keys", ["returning", "email", "range"])
def test_new_people_get_keys_links_touchpoints_their_journey_and_first_stage(db, keys):
    # given two new people, the first with two touchpoints (out of time order) and an outside id
    campaign = CampaignFactory()
    ada, bo = _new("ada@acme.example"), _new("bo@acme.example")
    batch = IngestBatch(
        now=NOW,
        person_columns=COLUMNS,
        people=[ada, bo],
        person_keys=keys,
        external_ids=[(ada, "hubspot", "h-1")],
        touchpoint_columns=TOUCH_COLUMNS,
        touchpoints=[
            NewTouchpoint(ada, (T1, "webinar", None, "webinar")),
            NewTouchpoint(ada, (T0, "paid_search", campaign.pk, "ad_click")),
        ],
        touchpoint_keys=keys == "returning",
        transitions=lambda: [Transition(person_id=p.pk, to_stage="lead", at=T0, reason="test") for p in (ada, bo)],
    )
    # when
    result = ingest(batch=batch)
    # then
    stored = {p.pk: p for p in Person.objects.all()}
    assert sorted(stored) == sorted([ada.pk, bo.pk]) and ada.pk < bo.pk
    a, b = stored[ada.pk], stored[bo.pk]
    assert (a.email, a.first_name, a.created_at, a.lifecycle_stage) == ("ada@acme.example", "Ada", T0, "lead")
    assert (a.original_channel, a.original_campaign_id, a.latest_channel, a.latest_campaign_id) == (
        "paid_search", campaign.pk, "webinar", None,
    )
    assert (b.original_channel, b.original_campaign_id, b.latest_channel, b.latest_campaign_id) == ("", None, "", None)
    assert list(ExternalId.objects.values_list("person_id", "system", "external_id")) == [(ada.pk, "hubspot", "h-1")]
    touchpoints = list(Touchpoint.objects.order_by("pk").values_list("pk", "person_id", "channel", "created_at"))
    assert [(p, c, at) for _, p, c, at in touchpoints] == [(ada.pk, "webinar", NOW), (ada.pk, "paid_search", NOW)]
    assert result.touchpoint_pks == ([pk for pk, *_ in touchpoints] if keys == "returning" else [])
    assert (result.stage_changes, StageChange.objects.count(), result.updated) == (2, 2, set())


def test_latest_journeys_move_only_to_touchpoints_at_or_after_the_newest_stored_one(db):
    # given two stored people with a touchpoint at T1, and a batch with one older and one newer-or-equal touch each
    ann, ben = _stored(latest_channel="email"), _stored(latest_channel="email")
    TouchpointFactory(person=ann, occurred_at=T1, channel="email")
    TouchpointFactory(person=ben, occurred_at=T1, channel="email")
    updated_at = Person.objects.get(pk=ann.pk).updated_at
    batch = IngestBatch(
        now=NOW,
        touchpoint_columns=TOUCH_COLUMNS,
        touchpoints=[
            NewTouchpoint(ann.pk, (T0, "direct", None, "page_view"), (0,)),
            NewTouchpoint(ben.pk, (T1, "referral", None, "page_view"), (1,)),
            NewTouchpoint(ben.pk, (T1, "events", None, "page_view"), (2,)),
        ],
        stored_journeys="latest",
        stored={ann.pk: ann, ben.pk: ben},
    )
    # when
    result = ingest(batch=batch)
    # then the older touch changes nothing; of two at the same moment the last to arrive is the latest
    ann.refresh_from_db()
    ben.refresh_from_db()
    assert (ann.original_channel, ann.latest_channel, ann.updated_at) == ("paid_search", "email", updated_at)
    assert (ben.original_channel, ben.latest_channel) == ("paid_search", "events")
    assert result.updated == {ben.pk}


def test_all_journeys_are_taken_again_from_stored_and_new_touchpoints_and_stamp_the_change(db):
    # given a stored person whose stored touchpoint (given by the engine) is at T1, and new ones at T0 and T2
    person = _stored(original_channel="email", latest_channel="email")
    TouchpointFactory(person=person, occurred_at=T1, channel="email")
    batch = IngestBatch(
        now=NOW,
        touchpoint_columns=TOUCH_COLUMNS,
        touchpoints=[
            NewTouchpoint(person.pk, (T0, "direct", None, "page_view"), ("direct", 0)),
            NewTouchpoint(person.pk, (T2, "webinar", None, "webinar"), ("webinar", 0)),
        ],
        stored_journeys="all",
        stored_touches={person.pk: [Touch(T1, "email", None, ("email", 0))]},
    )
    # when (the engine did not hand the person over: it is read)
    result = ingest(batch=batch)
    # then
    person.refresh_from_db()
    assert (person.original_channel, person.latest_channel, person.updated_at) == ("direct", "webinar", NOW)
    assert (result.updated, Touchpoint.objects.filter(person=person).count()) == ({person.pk}, 3)


def test_kept_journeys_and_engine_changes_write_the_named_fields_with_the_batch_time(db):
    # given a stored person the engine renamed, and a new touchpoint of theirs
    person = _stored(original_channel="email", latest_channel="email")
    person.first_name = "Renamed"
    batch = IngestBatch(
        now=NOW,
        changes={person: ["first_name"]},
        touchpoint_columns=TOUCH_COLUMNS,
        touchpoints=[NewTouchpoint(person.pk, (T2, "webinar", None, "webinar"))],
    )
    # when
    result = ingest(batch=batch)
    # then the journey stays, the change is written and stamped
    person.refresh_from_db()
    assert (person.first_name, person.latest_channel, person.updated_at) == ("Renamed", "email", NOW)
    assert result.updated == {person.pk}


def test_a_failing_stage_move_leaves_nothing_of_the_batch(db, monkeypatch):
    # given a batch whose stage moves (its last write) fail
    ada = _new("ada@acme.example")

    def broken(**kwargs: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr("tandem.capture.ingest.people_change_stage_bulk", broken)
    batch = IngestBatch(
        now=NOW,
        person_columns=COLUMNS,
        people=[ada],
        touchpoint_columns=TOUCH_COLUMNS,
        touchpoints=[NewTouchpoint(ada, (T0, "direct", None, "page_view"))],
        transitions=lambda: [Transition(person_id=ada.pk, to_stage="lead", at=T0)],
    )
    # when the engine's transaction holds it
    with pytest.raises(RuntimeError, match="disk full"), transaction.atomic():
        ingest(batch=batch)
    # then
    assert (Person.objects.count(), Touchpoint.objects.count()) == (0, 0)
