"""The activities API: logging a call makes the SLA count the MQL's first touch; lists, changes, kinds."""

from __future__ import annotations

import datetime as dt

import pytest

from tandem.core.models import Event
from tandem.crm.activities.services import activity_record
from tandem.crm.models import Activity, ActivityType, Person
from tandem.crm.services import person_change_stage
from tandem.lifecycle.selectors import sla_scorecard
from tandem.users.models import Role
from tests.crm.factories import AccountFactory, DealFactory, PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

MONDAY_10 = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
JUNE = (dt.datetime(2026, 6, 1, tzinfo=dt.UTC), dt.datetime(2026, 7, 1, tzinfo=dt.UTC))


@pytest.fixture
def rep(client):  # type: ignore[no-untyped-def]
    user = UserFactory(
        role=Role.SALES_REP, username="ann", team=TeamFactory(name="UTC team", time_zone="UTC")
    )
    client.force_login(user)
    return user


@pytest.fixture
def mql(rep):  # type: ignore[no-untyped-def]
    # An MQL of Ann's, handed over on Monday 10:00 (the default SLA: first touch within 4 business hours).
    person = PersonFactory(account=AccountFactory())
    Person.objects.filter(pk=person.pk).update(owner=rep)
    person_change_stage(person=person, to_stage="mql", at=MONDAY_10)
    return person


def _post(client, **body):  # type: ignore[no-untyped-def]
    return client.post("/api/activities", body, content_type="application/json")


def _rep_line() -> tuple[object, ...]:
    (line,) = sla_scorecard(start=JUNE[0], end=JUNE[1])["reps"]
    return (
        line["mqls"],
        line["touched"],
        line["median_minutes_to_touch"],
        line["mean_attempts"],
        line["within_sla"],
        line["breached"],
    )


def test_a_call_posted_for_an_mql_is_its_first_touch_in_the_sla_scorecard(client, rep, mql):
    # given an untouched MQL: breached by now
    assert _rep_line() == (1, 0, None, 0.0, 0, 1)
    # when Ann logs the call she made at 11:00
    response = _post(
        client,
        person_id=mql.pk,
        kind="call",
        occurred_at="2026-06-15T11:00:00Z",
        outcome="connected",
        direction="outbound",
        duration_minutes=12,
        notes="Wants pricing",
    )
    # then it is stored as hers, and the scorecard counts a first touch after 60 minutes, within the SLA
    assert response.status_code == 201
    body = response.json()
    activity = Activity.objects.get()
    assert body == {
        "id": activity.pk,
        "person_id": mql.pk,
        "kind": "call",
        "kind_label": "Call",
        "counts_as_touch": True,
        "direction": "outbound",
        "outcome": "connected",
        "subject": "",
        "occurred_at": "2026-06-15T11:00:00Z",
        "duration_minutes": 12,
        "notes": "Wants pricing",
        "deal_id": None,
        "account_id": mql.account_id,
        "user_id": rep.pk,
        "external_id": None,
        "created_at": body["created_at"],
    }
    assert _rep_line() == (1, 1, 60.0, 1.0, 1, 0)
    assert Event.objects.filter(kind="activity.logged", subject_id=activity.pk, actor=rep).count() == 1


def test_a_note_is_not_a_touch(client, rep, mql):
    # given a note written at 10:30
    assert _post(client, person_id=mql.pk, kind="note", occurred_at="2026-06-15T10:30:00Z").status_code == 201
    # then the MQL is still untouched
    assert _rep_line() == (1, 0, None, 0.0, 0, 1)
    # when the call comes at 12:00
    assert _post(client, person_id=mql.pk, kind="call", occurred_at="2026-06-15T12:00:00Z").status_code == 201
    # then the first touch is the call's, after 120 minutes, and the note is no attempt
    assert _rep_line() == (1, 1, 120.0, 1.0, 1, 0)


def test_a_kind_an_admin_makes_a_non_touch_stops_counting(client, rep, mql):
    # given a call at 11:00
    _post(client, person_id=mql.pk, kind="call", occurred_at="2026-06-15T11:00:00Z")
    # when an admin says calls are not touches
    admin = UserFactory(role=Role.ADMIN)
    client.force_login(admin)
    response = client.patch(
        "/api/activity-kinds/call", {"counts_as_touch": False}, content_type="application/json"
    )
    # then
    assert response.status_code == 200 and response.json()["counts_as_touch"] is False
    assert _rep_line() == (1, 0, None, 0.0, 0, 1)


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"kind": None}, 422, "kind"),
        ({"kind": "fax"}, 422, "kind"),
        ({"outcome": "great"}, 422, "outcome"),
        ({"direction": "up"}, 422, "direction"),
        ({"person_id": 999999}, 422, "person_id"),
        ({"person_id": 0}, 422, "person_id"),
        ({"deal_id": 999999}, 422, "deal_id"),
        ({"account_id": 999999}, 422, "account_id"),
        ({"duration_minutes": 5000}, 422, "duration_minutes"),
        ({"notes": "a\u0000b"}, 422, "notes"),
        ({"occurred_at": "2099-01-01T00:00:00Z"}, 422, "occurred_at"),
        ({"occurred_at": "yesterday"}, 422, "occurred_at"),
        ({"color": "red"}, 422, "color"),
        ({"external_id": "x" * 121}, 422, "external_id"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field_and_nothing_is_written(client, rep, mql, change, status, field):
    # given
    body = {"person_id": mql.pk, "kind": "call", **change}
    body = {k: v for k, v in body.items() if v is not None}
    before = (Activity.objects.count(), Event.objects.count())
    # when
    response = _post(client, **body)
    # then
    assert response.status_code == status
    answer = response.json()
    assert answer.get("field") == field or answer["errors"][0]["field"] == field
    assert (Activity.objects.count(), Event.objects.count()) == before


def test_a_rep_may_not_log_for_another_user_and_a_viewer_may_not_log(client, rep, mql):
    # given
    other = UserFactory(role=Role.SALES_REP)
    # when / then
    refused = _post(client, person_id=mql.pk, kind="call", user_id=other.pk)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "Only sales managers and admins may log an activity for another user."
    client.force_login(UserFactory(role=Role.VIEWER))
    assert _post(client, person_id=mql.pk, kind="call").status_code == 403
    client.logout()
    assert _post(client, person_id=mql.pk, kind="call").status_code == 401
    assert not Activity.objects.exists()


def test_the_list_filters_and_walks_keyset_pages_in_pinned_queries(client, rep, django_assert_num_queries):
    # given six activities of two people, two reps and three kinds over three days
    ben = UserFactory(role=Role.SALES_REP)
    ana, cy = PersonFactory(owner=rep), PersonFactory(owner=rep, account=AccountFactory(owner=rep))
    deal = DealFactory(owner=rep, person=cy, account=cy.account)
    made = [
        activity_record(person=ana, kind="call", occurred_at=MONDAY_10, user=rep),
        activity_record(person=ana, kind="email", occurred_at=MONDAY_10, user=rep),
        activity_record(
            person=cy, kind="call", occurred_at=MONDAY_10 + dt.timedelta(days=1), user=ben, deal=deal
        ),
        activity_record(person=cy, kind="note", occurred_at=MONDAY_10 + dt.timedelta(days=1)),
        activity_record(person=ana, kind="meeting", occurred_at=MONDAY_10 + dt.timedelta(days=2), user=ben),
        activity_record(person=cy, kind="call", occurred_at=MONDAY_10 + dt.timedelta(days=2), user=rep),
    ]
    ids = [a.pk for a in made]

    def listed(query: str) -> list[int]:
        response = client.get(f"/api/activities?{query}")
        assert response.status_code == 200, response.content
        return [item["id"] for item in response.json()["items"]]

    # when / then: newest first (ties by id), and each filter
    assert listed("") == [ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]]
    assert listed(f"person_id={ana.pk}") == [ids[4], ids[1], ids[0]]
    assert listed(f"deal_id={deal.pk}") == [ids[2]]
    assert listed(f"owner={rep.pk}&kind=call") == [ids[5], ids[0]]
    assert listed("owner=none") == [ids[3]]
    assert listed("since=2026-06-16T00:00:00Z&until=2026-06-17T00:00:00Z") == [ids[3], ids[2]]
    assert listed(f"account_id={cy.account_id}") == [ids[5], ids[3], ids[2]]
    # and pages of two, forward then back, each in the same few queries
    pages, cursor = [], ""
    while True:
        # session, user, permissions (the user's, the group's), the rep's team (record-level access), the page
        # with its people, kinds, users, deals
        with django_assert_num_queries(6):
            response = client.get(f"/api/activities?limit=2&cursor={cursor}")
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        if not body["next_cursor"]:
            break
        cursor = body["next_cursor"]
    assert pages == [[ids[5], ids[4]], [ids[3], ids[2]], [ids[1], ids[0]]]
    back = client.get(f"/api/activities?limit=2&cursor={body['prev_cursor']}").json()
    assert [item["id"] for item in back["items"]] == [ids[3], ids[2]]
    # and bad filters are refused naming the field
    for query, field in (
        ("owner=zed", "owner"),
        ("kind=fax", "kind"),
        ("cursor=abc", "cursor"),
        ("limit=0", "limit"),
    ):
        bad = client.get(f"/api/activities?{query}")
        assert bad.status_code == 422
        assert bad.json().get("field", bad.json().get("errors", [{}])[0].get("field")) == field
    assert (
        client.get("/api/activities?since=2026-06-17T00:00:00Z&until=2026-06-16T00:00:00Z").json()["field"]
        == "until"
    )


def test_the_author_changes_and_deletes_an_activity_others_may_not(client, rep, mql):
    # given Ann's call and another rep
    call = activity_record(person=mql, kind="call", occurred_at=MONDAY_10, by_user=rep)
    other = UserFactory(role=Role.SALES_REP)
    # when Ann adds the outcome and clears nothing else
    changed = client.patch(
        f"/api/activities/{call.pk}", {"outcome": "left_voicemail"}, content_type="application/json"
    )
    # then
    assert changed.status_code == 200
    assert (changed.json()["outcome"], changed.json()["kind"]) == ("left_voicemail", "call")
    assert client.get(f"/api/activities/{call.pk}").json()["outcome"] == "left_voicemail"
    # when the other rep tries to change or delete it
    client.force_login(other)
    refused = client.patch(f"/api/activities/{call.pk}", {"outcome": "busy"}, content_type="application/json")
    deleted = client.delete(f"/api/activities/{call.pk}")
    # then both are refused as not found (the person is not theirs: out of sight) and nothing changed
    assert (refused.status_code, deleted.status_code) == (404, 404)
    call.refresh_from_db()
    assert call.outcome == "left_voicemail"
    # when Ann deletes it
    client.force_login(rep)
    assert client.delete(f"/api/activities/{call.pk}").status_code == 204
    assert client.get(f"/api/activities/{call.pk}").status_code == 404
    assert list(
        Event.objects.filter(subject_type="crm.activity").order_by("pk").values_list("kind", flat=True)
    ) == [
        "activity.logged",
        "activity.changed",
        "activity.deleted",
    ]


def test_admins_manage_activity_kinds_others_only_read_them(client, rep):
    # given / when a rep reads and tries to add
    listed = client.get("/api/activity-kinds").json()
    refused = client.post(
        "/api/activity-kinds", {"key": "visit", "label": "Visit"}, content_type="application/json"
    )
    # then
    assert [(k["key"], k["counts_as_touch"], k["builtin"]) for k in listed] == [
        ("call", True, True),
        ("email", True, True),
        ("meeting", True, True),
        ("note", False, True),
    ]
    assert refused.status_code == 403
    # when an admin adds one, retires it, lists retired ones, and deletes it
    client.force_login(UserFactory(role=Role.ADMIN))
    added = client.post(
        "/api/activity-kinds", {"key": "visit", "label": "Site visit"}, content_type="application/json"
    )
    retired = client.patch("/api/activity-kinds/visit", {"is_active": False}, content_type="application/json")
    active = [k["key"] for k in client.get("/api/activity-kinds").json()]
    every = [k["key"] for k in client.get("/api/activity-kinds?include_retired=true").json()]
    # then
    assert added.status_code == 201
    assert added.json() == {
        "key": "visit",
        "label": "Site visit",
        "counts_as_touch": True,
        "builtin": False,
        "is_active": True,
        "position": 4,
    }
    assert retired.json()["is_active"] is False
    assert (active, every) == (
        ["call", "email", "meeting", "note"],
        ["call", "email", "meeting", "note", "visit"],
    )
    assert client.delete("/api/activity-kinds/visit").status_code == 204
    assert client.delete("/api/activity-kinds/note").status_code == 409
    assert client.patch("/api/activity-kinds/Bad-Key", {}, content_type="application/json").status_code == 422
    assert client.patch("/api/activity-kinds/nope", {}, content_type="application/json").status_code == 404
    assert not ActivityType.objects.filter(key="visit").exists()
