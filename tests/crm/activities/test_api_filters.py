"""The activities list takes its filters by the names the activities page uses (`person`), the older names still."""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.crm.activities.services import activity_record
from tandem.users.models import Role
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
MONDAY_10 = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


def test_the_person_filter_is_named_as_on_the_activities_page(client):
    # given two people of a rep, each with a call
    rep = UserFactory(role=Role.SALES_REP)
    ana, cy = PersonFactory(owner=rep), PersonFactory(owner=rep)
    call = activity_record(person=ana, kind="call", occurred_at=MONDAY_10, user=rep)
    activity_record(person=cy, kind="call", occurred_at=MONDAY_10, user=rep)
    client.force_login(rep)
    # when filtered by `person` (the page's name) and by `person_id` (the older one)
    by_page_name = client.get(f"/api/activities?person={ana.pk}").json()["items"]
    by_old_name = client.get(f"/api/activities?person_id={ana.pk}").json()["items"]
    # then both give Ana's call only
    assert [a["id"] for a in by_page_name] == [a["id"] for a in by_old_name] == [call.pk]
    # and a bad value is named by the name sent
    bad = client.get("/api/activities?person=0")
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["person"]
