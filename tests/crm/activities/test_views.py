"""Activity pages: the quick-log box (HTMX) on the person page, the inbox and SLA pages after a call, the list,
and the kinds page for admins."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from tandem.core.models import Event
from tandem.crm.activities.services import activity_record
from tandem.crm.models import Activity, ActivityType, Person
from tandem.crm.services import person_change_stage
from tandem.users.models import Role
from tests.crm.factories import AccountFactory, DealFactory, PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
MONDAY_10 = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def rep(client):  # type: ignore[no-untyped-def]
    user = UserFactory(
        role=Role.SALES_REP, username="ann", team=TeamFactory(name="UTC team", time_zone="UTC")
    )
    client.force_login(user)
    return user


def _mql(owner, at):  # type: ignore[no-untyped-def]
    person = PersonFactory(first_name="Lee", last_name="Caller", account=AccountFactory())
    Person.objects.filter(pk=person.pk).update(owner=owner)
    person_change_stage(person=person, to_stage="mql", at=at)
    return person


def _log(client, person, **fields):  # type: ignore[no-untyped-def]
    form = {
        "text": "",
        "kind": "call",
        "outcome": "",
        "direction": "",
        "duration": "",
        "occurred_at": "",
        **fields,
    }
    return client.post(f"/activities/people/{person.pk}/log/", form, **HTMX)


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return " ".join(response.content.decode().split())


def test_the_person_page_shows_the_quick_log_box_and_the_timeline(client, rep):
    # given a person with a note
    person = PersonFactory(owner=rep)
    activity_record(person=person, kind="note", notes="Met at the fair", occurred_at=MONDAY_10, by_user=rep)
    # when
    page = _text(client.get(f"/people/{person.pk}/"))
    # then
    assert 'id="quicklog-text"' in page and 'aria-keyshortcuts="l"' in page
    assert "Note" in page and "Met at the fair" in page and "not a touch" in page


def test_a_few_words_log_a_call_and_the_panel_shows_it(client, rep):
    # given
    person = PersonFactory(owner=rep)
    # when Ann types the call and presses Enter
    response = _log(client, person, text="call connected 15m wants pricing", kind="note")
    # then the words won over the kind list, and the new call is at the top of the timeline
    assert response.status_code == 200
    call = Activity.objects.get()
    assert (call.kind_id, call.outcome, call.duration_minutes, call.notes, call.user_id, call.person_id) == (
        "call",
        "connected",
        15,
        "wants pricing",
        rep.pk,
        person.pk,
    )
    body = _text(response)
    assert "Logged: Call · Connected · 15 min." in body
    assert f'<li data-activity-id="{call.pk}">' in body and "wants pricing" in body
    assert "autofocus" in body


def test_the_lists_fill_what_the_words_leave_out(client, rep):
    # given a person with an open deal
    person = PersonFactory(owner=rep)
    deal = DealFactory(owner=rep, person=person)
    # when Ann picks the outcome, direction, duration, time and deal, and types only the note
    response = _log(
        client,
        person,
        text="Left a message about the renewal",
        kind="call",
        outcome="left_voicemail",
        direction="outbound",
        duration="2",
        occurred_at="2026-06-15T11:30",
        deal_id=str(deal.pk),
    )
    # then
    assert response.status_code == 200
    call = Activity.objects.get()
    assert (call.kind_id, call.outcome, call.direction, call.duration_minutes, call.deal_id) == (
        "call",
        "left_voicemail",
        "outbound",
        2,
        deal.pk,
    )
    assert (call.occurred_at, call.notes) == (
        MONDAY_10 + dt.timedelta(minutes=90),
        "Left a message about the renewal",
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"text": "call 2000m"}, "duration_minutes must be at most 1440 minutes (a day), got 2000"),
        (
            {"text": "hello", "kind": ""},
            "say what it was: start with call, email, meeting or note, or pick a kind",
        ),
        ({"text": "call", "occurred_at": "2099-01-01T10:00"}, "is more than a day in the future"),
        ({"text": "call", "occurred_at": "soon"}, "cannot read &#x27;soon&#x27; as a date and time"),
        ({"text": "call", "duration": "ten"}, "duration must be whole minutes, got &#x27;ten&#x27;"),
        ({"text": "call", "deal_id": "999"}, "no open deal #999 of"),
    ],
)
def test_bad_input_is_shown_in_the_panel_and_nothing_is_logged(client, rep, fields, message):
    # given
    person = PersonFactory(owner=rep)
    # when
    response = _log(client, person, **fields)
    # then the panel comes back with the error and the text as typed
    assert response.status_code == 422
    body = _text(response)
    assert 'data-testid="activity-error"' in body and message in body
    assert f'value="{fields["text"]}"' in body
    assert not Activity.objects.exists() and not Event.objects.filter(kind="activity.logged").exists()


def test_without_javascript_the_form_posts_and_comes_back_to_the_person(client, rep):
    # given
    person = PersonFactory(owner=rep)
    # when
    response = client.post(
        f"/activities/people/{person.pk}/log/", {"text": "email sent pricing", "kind": "call"}
    )
    # then
    assert response.status_code == 302 and response["Location"] == f"/people/{person.pk}/"
    assert Activity.objects.get().kind_id == "email"


def test_a_viewer_has_no_box_and_may_not_post(client):
    # given
    client.force_login(UserFactory(role=Role.VIEWER))
    person = PersonFactory()
    # when / then
    assert 'id="quicklog-text"' not in client.get(f"/people/{person.pk}/").content.decode()
    assert _log(client, person, text="call").status_code == 403
    assert not Activity.objects.exists()


def test_a_call_logged_in_the_box_ends_the_overdue_state_in_the_inbox_at_once(client, rep):
    # given an MQL handed to Ann a week ago and never touched
    mql = _mql(rep, timezone.now() - dt.timedelta(days=7))

    def state() -> str:
        page = client.get("/inbox/").content.decode()
        found = re.search(rf'id="mql-{mql.pk}"[^>]*data-state="([a-z_]+)"', page)
        assert found is not None, page
        return found.group(1)

    assert state() == "overdue"
    # when Ann logs the call in the quick-log box
    assert _log(client, mql, text="call connected").status_code == 200
    # then the inbox says it was touched (late), no longer overdue
    assert state() == "late"


def test_a_call_logged_in_the_box_is_the_first_touch_on_the_sla_page(client, rep):
    # given an MQL handed over on Monday 10:00 in June
    mql = _mql(rep, MONDAY_10)
    client.force_login(UserFactory(role=Role.SALES_MANAGER))
    june = "/sla/?from=2026-06-01&to=2026-06-30"
    before = _text(client.get(june))
    # when Ann logs the call she made at 11:00, and a note at 10:30
    client.force_login(rep)
    _log(client, mql, text="note called the office", kind="call", occurred_at="2026-06-15T10:30")
    _log(client, mql, text="call connected", occurred_at="2026-06-15T11:00")
    client.force_login(UserFactory(role=Role.SALES_MANAGER))
    after = _text(client.get(june))
    # then the SLA page counts the call (60 business minutes), not the note
    assert '<td>ann</td><td class="num">1</td><td class="num">0</td> <td class="num">—</td>' in before
    assert '<td>ann</td><td class="num">1</td><td class="num">1</td> <td class="num">60</td>' in after


def test_the_activities_page_filters_and_pages_in_pinned_queries(client, rep, django_assert_num_queries):
    # given 3 activities, two by Ann
    ana, bo = PersonFactory(owner=rep, first_name="Ana"), PersonFactory(owner=rep, first_name="Bo")
    call = activity_record(person=ana, kind="call", occurred_at=MONDAY_10, by_user=rep, notes="first call")
    activity_record(person=bo, kind="email", occurred_at=MONDAY_10 + dt.timedelta(days=1), by_user=rep)
    activity_record(person=ana, kind="note", occurred_at=MONDAY_10 + dt.timedelta(days=2))
    # when: session, user, permissions (user, group), the owner filter's user and kind, the page with its people,
    # kinds, users and deals, then the kinds and owners for the filters, and the rep's team (record-level access)
    with django_assert_num_queries(10):
        page = client.get(f"/activities/?owner={rep.pk}&kind=call&since=2026-06-15&until=2026-06-15")
    partial = client.get(f"/activities/?person={bo.pk}", **HTMX)
    bad = client.get("/activities/?owner=zed")
    # then
    body = _text(page)
    assert page.status_code == 200 and "first call" in body and body.count("<tr>") == 2
    assert _text(partial).startswith('<div id="activity-results">') and "Activities with" in _text(partial)
    assert _text(partial).count("<tr>") == 2
    assert (
        bad.status_code == 422
        and "owner must be a user id or &#x27;none&#x27;, got &#x27;zed&#x27;" in _text(bad)
    )
    assert call.pk


def test_only_admins_manage_kinds_on_their_page(client, rep):
    # given / when a rep opens it
    assert client.get("/activities/kinds/").status_code == 403
    # when an admin adds a kind and makes it a non-touch
    client.force_login(UserFactory(role=Role.ADMIN))
    added = client.post("/activities/kinds/", {"key": "visit", "label": "Site visit", "counts_as_touch": "1"})
    edited = client.post("/activities/kinds/visit/", {"label": "Visit", "is_active": "1", "action": "save"})
    refused = client.post("/activities/kinds/", {"key": "call", "label": "Phone"})
    page = _text(client.get("/activities/kinds/"))
    # then
    assert (added.status_code, edited.status_code, refused.status_code) == (302, 302, 409)
    visit = ActivityType.objects.get(key="visit")
    assert (visit.label, visit.counts_as_touch, visit.is_active) == ("Visit", False, True)
    assert 'data-kind="visit"' in page and "not a touch" in page
