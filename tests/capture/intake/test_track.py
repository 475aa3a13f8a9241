"""The tracking endpoint: touchpoints from outside systems, one at a time or in batches of up to 1,000."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.capture.models import Submission, UnknownUtm
from tandem.crm.models import ExternalId, Person
from tandem.users.models import Role
from tandem.users.services import api_token_create
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _token(role: str = Role.MARKETING) -> str:
    return api_token_create(user=UserFactory(role=role), name="webinar tool")[1]


def _track(body: Any, token: str, **headers: str) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return Client().post(
        "/api/capture/track", data=data, content_type="application/json",
        headers={"Authorization": f"Bearer {token}", **headers},
    )


def test_one_event_for_a_known_person_adds_a_touchpoint_on_the_campaign_named_by_its_outside_id():
    # given a known person and a campaign with an outside id
    person = PersonFactory(email="ann@example.com")
    campaign = Campaign.objects.create(name="Webinar", channel="webinar", external_id="ZOOM-9")
    # when the webinar tool reports attendance
    response = _track(
        {"kind": "webinar", "email": "ANN@example.com", "campaign_id": "ZOOM-9", "occurred_at": "2026-11-20T15:00:00Z",
         "properties": {"minutes": 47}},
        _token(),
    )
    # then one touchpoint at that time, on that campaign, with the properties kept
    assert response.status_code == 201
    assert response.json()["touchpoints"] == 1 and response.json()["people_created"] == 0
    tp = Touchpoint.objects.get()
    assert (tp.person_id, tp.kind, tp.channel, tp.campaign_id) == (person.pk, "webinar", "webinar", campaign.pk)
    assert tp.occurred_at == dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)
    assert tp.custom_fields["properties"] == {"minutes": 47}


def test_a_batch_creates_unknown_people_once_and_matches_by_outside_id_without_email():
    # given a person known only by a badge scanner's id
    known = PersonFactory(email="")
    ExternalId.objects.create(person=known, system="badge", external_id="B-1")
    events = [
        {"kind": "event_visit", "system": "badge", "external_id": "B-1", "channel": "events"},
        {"kind": "event_visit", "email": "new@example.com", "person": {"first_name": "Nia", "company": "New Co"}, "channel": "events"},
        {"kind": "call", "email": "new@example.com", "channel": "outbound"},
        {"kind": "event_visit", "system": "badge", "external_id": "B-2", "channel": "events"},
    ]
    # when the batch arrives
    response = _track({"events": events}, _token())
    # then four touchpoints; two new people (one by email, one by a new badge id), none duplicated
    assert response.status_code == 201
    assert response.json() == {"submission_id": Submission.objects.get().pk, "status": "received", "events": 4, "touchpoints": 4, "people_created": 2}
    new = Person.objects.get(email="new@example.com")
    assert (new.first_name, new.account.name, new.original_channel, new.lifecycle_stage) == ("Nia", "New Co", "events", "lead")
    assert Touchpoint.objects.filter(person=new).count() == 2
    assert Touchpoint.objects.filter(person=known).count() == 1
    assert ExternalId.objects.get(system="badge", external_id="B-2").person.email == ""
    assert Person.objects.count() == 3


def test_an_older_event_does_not_replace_the_person_latest_source():
    # given a person whose latest touch is a recent paid search click
    person = PersonFactory(email="late@example.com")
    token = _token()
    _track({"kind": "ad_click", "email": "late@example.com", "channel": "paid_search", "occurred_at": "2026-11-20T10:00:00Z"}, token)
    # when an older email click arrives afterwards
    _track({"kind": "email_click", "email": "late@example.com", "channel": "email", "occurred_at": "2026-11-01T10:00:00Z"}, token)
    # then the latest source stays paid search
    person.refresh_from_db()
    assert person.latest_channel == "paid_search"
    assert Touchpoint.objects.filter(person=person).count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": [{"kind": "webinar", "email": "a@example.com"}, {"kind": "teleport", "email": "b@example.com"}]}, "events[1].kind"),
        ({"events": [{"kind": "webinar"}]}, "events[0].email"),
        ({"events": [{"kind": "webinar", "email": "a@example.com", "occurred_at": "yesterday"}]}, "events[0].occurred_at"),
        ({"events": [{"kind": "webinar", "email": "a@example.com", "channel": "tv"}]}, "events[0].channel"),
        ({"events": [{"kind": "webinar", "external_id": "X-1"}]}, "events[0].system"),
        ({"events": []}, "events"),
        ({"kind": "webinar", "email": "a@example.com", "occurred_at": "2999-01-01T00:00:00Z"}, "occurred_at"),
        ({"kind": "webinar", "email": "a@example.com", "properties": {"note": "a\x00b"}}, "properties.note"),
    ],
)
def test_a_batch_with_one_bad_event_is_refused_whole_naming_it(body, field):
    # given a known person
    PersonFactory(email="a@example.com")
    # when a batch with a bad event arrives
    response = _track(body, _token())
    # then 422 names the event and field, and nothing but the journal row was written
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert Touchpoint.objects.count() == 0 and Person.objects.count() == 1
    assert Submission.objects.get().status == "rejected"


def test_more_than_1000_events_are_refused():
    # given 1,001 events
    events = [{"kind": "ad_click", "email": f"p{i}@example.com"} for i in range(1001)]
    # when sent, then 422 on "events"
    response = _track({"events": events}, _token())
    assert response.status_code == 422
    assert response.json()["field"] == "events" and response.json()["value"] == "1001"
    assert Person.objects.count() == 0


def test_a_full_batch_of_1000_is_recorded():
    # given 1,000 events for 250 people
    events = [{"kind": "ad_click", "email": f"p{i % 250}@example.com", "channel": "display"} for i in range(1000)]
    # when sent
    response = _track({"events": events}, _token())
    # then all are recorded
    assert response.status_code == 201
    assert (Person.objects.count(), Touchpoint.objects.count()) == (250, 1000)


def test_tracking_needs_a_token_of_a_role_that_may_write_capture_data():
    # given a rep's token and no token
    body = {"kind": "call", "email": "a@example.com"}
    # when each sends an event, then 403 and 401, and nothing is written
    assert _track(body, _token(Role.SALES_REP)).status_code == 403
    assert Client().post("/api/capture/track", data=json.dumps(body), content_type="application/json").status_code == 401
    assert Submission.objects.count() == 0


def test_a_retried_batch_with_the_same_idempotency_key_is_recorded_once():
    # given a batch sent once
    token = _token()
    body = {"events": [{"kind": "ad_click", "email": "i@example.com"}]}
    first = _track(body, token, **{"Idempotency-Key": "batch-77"})
    # when retried with the same key
    again = _track(body, token, **{"Idempotency-Key": "batch-77"})
    # then one touchpoint, and the same answer
    assert again.status_code == 200 and again.json() == first.json()
    assert Touchpoint.objects.count() == 1


def test_a_tracking_token_over_its_limit_gets_429(settings, monkeypatch):
    # given a limit of 2 requests a minute
    settings.CAPTURE_TRACK_RATE_LIMIT = 2
    monkeypatch.setattr("tandem.capture.intake.services.time.time", lambda: 1_800_000_000.0)
    token = _token()
    body = {"kind": "ad_click", "email": "j@example.com"}
    codes = [_track(body, token).status_code for _ in range(3)]
    # then the third is refused with Retry-After
    assert codes == [201, 201, 429]
    assert Touchpoint.objects.count() == 2


def test_the_unknown_utm_campaign_of_a_tracked_click_is_counted_not_made_a_campaign():
    # given no campaign "retarget-7"
    # when a click carries it
    _track({"kind": "ad_click", "email": "k@example.com", "utm_source": "facebook", "utm_medium": "cpc", "utm_campaign": "retarget-7"}, _token())
    # then no campaign is made: the touchpoint has none, read as paid social, and the tag waits for review
    assert Campaign.objects.count() == 0
    assert Touchpoint.objects.values_list("campaign_id", "channel").get() == (None, "paid_social")
    assert UnknownUtm.objects.values_list("value", "utm_source", "count", "status").get() == (
        "retarget-7", "facebook", 1, "new",
    )
