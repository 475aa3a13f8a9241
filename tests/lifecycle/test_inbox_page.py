"""The inbox at scale: keyset pages, sorts and filters, "overdue" under the policy in force and the owner's team
calendar, bad filter values named, and a query count that does not grow with the rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client

from tandem.campaigns.models import Campaign
from tandem.core.errors import ValidationFailed
from tandem.crm.models import Activity, Person
from tandem.crm.services import person_change_stage
from tandem.lifecycle.business_hours import add_business_minutes
from tandem.lifecycle.selectors import InboxPage, inbox_page
from tandem.lifecycle.services import (
    calendar_for_team,
    mql_accept,
    sla_policy_publish,
    team_calendar_set,
    team_calendars,
)
from tandem.scoring.models import PersonScore
from tandem.users.models import Role, Team
from tests.crm.factories import PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

UTC = dt.UTC
# Wednesday 17 June 2026, 14:45 UTC = 16:45 in Berlin (UTC+2). Berlin works 09:00–17:00 and is closed on
# Thursday 18 June (a holiday); Remote has no calendar of its own: Monday–Friday 09:00–17:00 UTC.
NOW = dt.datetime(2026, 6, 17, 14, 45, tzinfo=UTC)
NINE_TO_FIVE = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    # The test users' passwords are hashed with a fast hasher: PBKDF2 costs most of a second per user.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _at(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 6, day, hour, minute, tzinfo=UTC)


def _mql(
    owner: Any,
    handed_off: dt.datetime,
    name: str,
    *,
    channel: str = "paid_search",
    campaign: Campaign | None = None,
    touched: dt.datetime | None = None,
    probability: float | None = None,
) -> Person:
    first, _, last = name.partition(" ")
    person = PersonFactory(first_name=first, last_name=last, original_channel=channel)
    person_change_stage(person=person, to_stage="mql", at=handed_off, rule="definition:mql", rule_version=1)
    Person.objects.filter(pk=person.pk).update(owner=owner, latest_campaign=campaign)
    if touched is not None:
        Activity.objects.create(person=person, user=owner, kind_id="call", occurred_at=touched)
    if probability is not None:
        PersonScore.objects.create(person=person, probability=probability, engagement=10.0, fit_grade="B", scored_at=handed_off)
    return Person.objects.get(pk=person.pk)


@pytest.fixture
def world() -> dict[str, Any]:
    admin = UserFactory(role=Role.ADMIN, username="admin")
    manager = UserFactory(role=Role.SALES_MANAGER, username="morgan")
    berlin = TeamFactory(name="Berlin", manager=manager)
    team_calendar_set(
        team=berlin, time_zone="Europe/Berlin", hours=NINE_TO_FIVE, holidays=[{"date": "2026-06-18", "name": "Holiday"}], by_user=admin
    )
    Team.objects.filter(pk=berlin.pk).update(manager=manager)
    manager.team = berlin
    manager.save(update_fields=["team"])
    remote = TeamFactory(name="Remote")
    ann = UserFactory(role=Role.SALES_REP, team=berlin, username="ann", first_name="Ann")
    bob = UserFactory(role=Role.SALES_REP, team=berlin, username="bob", first_name="Bob")
    cat = UserFactory(role=Role.SALES_REP, team=remote, username="cat", first_name="Cat")
    # The policy in force is the second one: 2 business hours (the first said 4).
    sla_policy_publish(spec={"first_touch_hours": 4}, reason="Start", by_user=admin)
    sla_policy_publish(spec={"first_touch_hours": 2}, reason="Faster", by_user=admin)
    webinar = Campaign.objects.create(name="June webinar", channel="webinar")
    people = {
        # Tuesday 16:30 Berlin: 30 minutes that day, then 09:00–10:30 on Wednesday. A note is not a touch.
        "overdue": _mql(ann, _at(16, 14, 30), "Olga Overdue", probability=0.42),
        # Wednesday 15:00 Berlin: two hours end at 17:00 Berlin, 15 minutes after now.
        "soon": _mql(ann, _at(17, 13), "Sam Soon", channel="webinar", campaign=webinar, probability=0.10),
        # Wednesday 16:30 Berlin: 30 minutes that day, Thursday is a holiday, then 09:00–10:30 on Friday.
        "later": _mql(bob, _at(17, 14, 30), "Liam Later", channel="webinar", campaign=webinar),
        # Monday 10:00 Berlin, due 12:00 Berlin; called at 11:00 Berlin.
        "met": _mql(bob, _at(15, 8), "Mia Met", touched=_at(15, 9), probability=0.73),
        # Monday 10:00 Berlin, due 12:00 Berlin; called on Tuesday.
        "late": _mql(ann, _at(15, 8), "Lea Late", touched=_at(16, 9)),
        # The same Tuesday hand-off as "overdue" in UTC office hours: due 16:30 UTC the same day.
        "remote": _mql(cat, _at(16, 14, 30), "Rob Remote"),
        # Handed off in April, never touched: the backlog.
        "old": _mql(ann, dt.datetime(2026, 4, 1, 10, 0, tzinfo=UTC), "Otto Old"),
    }
    Activity.objects.create(person=people["overdue"], user=ann, kind_id="note", occurred_at=_at(17, 8))
    return {"admin": admin, "manager": manager, "ann": ann, "bob": bob, "cat": cat, "berlin": berlin, "people": people, "webinar": webinar}


def _ids(page: InboxPage) -> list[int]:
    return [i.person.pk for i in page.items]


def _names(page: InboxPage) -> list[str]:
    return [str(i.person) for i in page.items]


def test_overdue_is_computed_under_the_policy_in_force_and_the_owners_team_calendar(world: dict[str, Any]) -> None:
    # given the world above: policy v2 (2 business hours), Berlin's calendar with Thursday off, Remote on UTC
    people = world["people"]
    # when the admin reads every open MQL of any age, soonest deadline first
    page = inbox_page(user=world["admin"], age="all", sort="deadline", now=NOW)
    # then each deadline is the hand-off plus 2 business hours in the owner's team calendar, exactly
    by_id = {i.person.pk: i for i in page.items}
    expected = {
        "old": (dt.datetime(2026, 4, 1, 12, 0, tzinfo=UTC), "overdue"),  # Wednesday 12:00 Berlin + 2 h
        "met": (_at(15, 10), "met"),
        "late": (_at(15, 10), "late"),
        "remote": (_at(16, 16, 30), "overdue"),
        "overdue": (_at(17, 8, 30), "overdue"),
        "soon": (_at(17, 15), "due_soon"),
        "later": (_at(19, 8, 30), "due_later"),
    }
    assert {k: (by_id[p.pk].deadline, by_id[p.pk].state) for k, p in people.items()} == expected
    # and the deadlines are those the breach check uses (add_business_minutes in the team's calendar)
    berlin = calendar_for_team(team_calendars(), world["berlin"].pk)
    assert add_business_minutes(_at(17, 14, 30), 120, berlin) == by_id[people["later"].pk].deadline
    # and the pending ones say how many business minutes are left; the touched ones when they were touched
    assert by_id[people["soon"].pk].minutes_left == 15.0
    assert by_id[people["later"].pk].minutes_left == 15.0 + 90.0
    assert (by_id[people["met"].pk].touched_at, by_id[people["overdue"].pk].touched_at) == (_at(15, 9), None)
    assert page.states == {"overdue": 3, "due_soon": 1, "due_later": 1, "late": 1, "met": 1}


def test_each_role_sees_its_own_scope_and_the_owner_filter_narrows_it(world: dict[str, Any]) -> None:
    # given Ann and Bob in the manager's Berlin team, Cat in Remote
    ann, bob, cat, manager, admin = (world[k] for k in ("ann", "bob", "cat", "manager", "admin"))
    everyone = dict(age="all", sort="name", now=NOW)
    # when each role reads the inbox, and the manager and the admin narrow it to one owner
    as_ann = inbox_page(user=ann, **everyone)
    as_manager = inbox_page(user=manager, **everyone)
    only_bob = inbox_page(user=manager, owner=str(bob.pk), **everyone)
    as_admin = inbox_page(user=admin, **everyone)
    only_cat = inbox_page(user=admin, owner=str(cat.pk), **everyone)
    # then a rep sees her own, the manager the team's, the admin everyone's; the owner filter is exact
    assert _names(as_ann) == ["Lea Late", "Olga Overdue", "Otto Old", "Sam Soon"]
    assert _names(as_manager) == ["Lea Late", "Liam Later", "Mia Met", "Olga Overdue", "Otto Old", "Sam Soon"]
    assert _names(only_bob) == ["Liam Later", "Mia Met"]
    assert _names(as_admin) == ["Lea Late", "Liam Later", "Mia Met", "Olga Overdue", "Otto Old", "Rob Remote", "Sam Soon"]
    assert _names(only_cat) == ["Rob Remote"]
    assert (as_ann.scope, as_manager.scope, as_admin.scope) == ("own", "team", "all")
    assert [u.username for u in as_manager.owners] == ["ann", "bob", "morgan"]


def test_state_channel_campaign_and_age_filters_are_exact(world: dict[str, Any]) -> None:
    # given the manager's team inbox
    manager, webinar = world["manager"], world["webinar"]

    def names(**filters: Any) -> list[str]:
        return _names(inbox_page(user=manager, sort="name", now=NOW, **filters))

    # when each filter is applied (the default age is the last 30 days)
    # then each keeps exactly the rows it names
    assert names(state="overdue") == ["Olga Overdue"]
    assert names(state="overdue", age="all") == ["Olga Overdue", "Otto Old"]
    assert names(state="due_soon") == ["Sam Soon"]
    assert names(state="due_later") == ["Liam Later"]
    assert names(state="untouched") == ["Liam Later", "Olga Overdue", "Sam Soon"]
    assert names(state="touched") == ["Lea Late", "Mia Met"]
    assert names(state="late") == ["Lea Late"]
    assert names(state="met") == ["Mia Met"]
    assert names(channel="webinar") == ["Liam Later", "Sam Soon"]
    assert names(campaign=str(webinar.pk), state="due_soon") == ["Sam Soon"]
    assert names(age="1d") == ["Liam Later", "Sam Soon"]
    assert names(age="7d") == ["Lea Late", "Liam Later", "Mia Met", "Olga Overdue", "Sam Soon"]
    assert names(age="older") == ["Otto Old"]
    # and the counts per state ignore the state filter, the older backlog is counted, not listed
    page = inbox_page(user=manager, state="overdue", now=NOW)
    assert page.states == {"overdue": 1, "due_soon": 1, "due_later": 1, "late": 1, "met": 1}
    assert (page.total, page.older, page.older_untouched, page.since) == (1, 1, 1, NOW - dt.timedelta(days=30))
    assert page.campaigns == [(webinar.pk, "June webinar")]


def test_every_sort_orders_the_rows_exactly(world: dict[str, Any]) -> None:
    # given the admin's inbox of every age
    admin = world["admin"]

    def names(sort: str) -> list[str]:
        return _names(inbox_page(user=admin, age="all", sort=sort, now=NOW))

    # when it is sorted each way
    # then untouched rows come first by deadline for "urgency", ties broken by the older id
    assert names("urgency") == ["Otto Old", "Rob Remote", "Olga Overdue", "Sam Soon", "Liam Later", "Mia Met", "Lea Late"]
    assert names("deadline") == ["Otto Old", "Mia Met", "Lea Late", "Rob Remote", "Olga Overdue", "Sam Soon", "Liam Later"]
    assert names("-deadline") == ["Liam Later", "Sam Soon", "Olga Overdue", "Rob Remote", "Lea Late", "Mia Met", "Otto Old"]
    assert names("handoff") == ["Otto Old", "Mia Met", "Lea Late", "Olga Overdue", "Rob Remote", "Sam Soon", "Liam Later"]
    assert names("-handoff") == ["Liam Later", "Sam Soon", "Rob Remote", "Olga Overdue", "Lea Late", "Mia Met", "Otto Old"]
    # scored leads by probability (unscored count lowest, by id among themselves)
    assert names("-score") == ["Mia Met", "Olga Overdue", "Sam Soon", "Otto Old", "Rob Remote", "Lea Late", "Liam Later"]
    assert names("score") == ["Liam Later", "Lea Late", "Rob Remote", "Otto Old", "Sam Soon", "Olga Overdue", "Mia Met"]
    assert names("name") == sorted(names("name"), key=str.lower)
    assert names("-name") == list(reversed(names("name")))


@pytest.mark.parametrize("sort", ["urgency", "deadline", "-handoff", "score", "-name"])
def test_pages_neither_repeat_nor_lose_a_row_forward_and_back(world: dict[str, Any], sort: str) -> None:
    # given 16 more MQLs of Bob's, several handed off at the same moment (ties on every sort key)
    bob, manager = world["bob"], world["manager"]
    for n in range(16):
        _mql(bob, _at(16, 10 + n % 3), f"Tia Tie{n:02d}")
    everything = _ids(inbox_page(user=manager, age="all", sort=sort, limit=200, now=NOW))
    # when the manager walks pages of 5 forward, then back from the last page
    pages = [inbox_page(user=manager, age="all", sort=sort, limit=5, now=NOW)]
    while pages[-1].next_cursor:
        pages.append(inbox_page(user=manager, age="all", sort=sort, limit=5, cursor=pages[-1].next_cursor, now=NOW))
    back = [pages[-1]]
    while back[-1].prev_cursor:
        back.append(inbox_page(user=manager, age="all", sort=sort, limit=5, cursor=back[-1].prev_cursor, now=NOW))
    # then every row is seen exactly once, in order, both ways
    assert len(everything) == 22
    assert [pid for p in pages for pid in _ids(p)] == everything
    assert [pid for p in reversed(back) for pid in _ids(p)] == everything
    assert [len(p.items) for p in pages] == [5, 5, 5, 5, 2]
    assert pages[0].prev_cursor is None and pages[-1].next_cursor is None


def test_a_row_answered_between_pages_does_not_shift_the_next_page(world: dict[str, Any]) -> None:
    # given the manager on the first page of two (newest hand-off first)
    manager = world["manager"]
    first = inbox_page(user=manager, age="all", sort="-handoff", limit=3, now=NOW)
    rest = _ids(inbox_page(user=manager, age="all", sort="-handoff", limit=200, now=NOW))[3:]
    # when a lead on the first page is accepted before the next page is read
    mql_accept(person=first.items[0].person, by_user=manager)
    second = inbox_page(user=manager, age="all", sort="-handoff", limit=3, cursor=first.next_cursor, now=NOW)
    # then the next page starts right after the first page's last row: nothing skipped, nothing repeated
    assert _ids(second) == rest[:3]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"state": "late-ish"}, "state"),
        ({"age": "2w"}, "age"),
        ({"sort": "price"}, "sort"),
        ({"channel": "carrier_pigeon"}, "channel"),
        ({"campaign": "webinar"}, "campaign"),
        ({"owner": "bob"}, "owner"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_filter_values_are_refused_naming_the_field(world: dict[str, Any], filters: dict[str, Any], field: str) -> None:
    # given the manager
    # when a filter value is not one the inbox knows (or not one a manager may use)
    with pytest.raises(ValidationFailed) as caught:
        inbox_page(user=world["manager"], now=NOW, **filters)
    # then the error names the field and the value
    assert caught.value.field == field
    assert caught.value.status_code == 422


def test_a_rep_cannot_list_someone_elses_mqls_and_a_cursor_of_another_sort_is_refused(world: dict[str, Any]) -> None:
    # given Ann (a rep), Bob's id, and a cursor of a list sorted by name
    ann, bob = world["ann"], world["bob"]
    by_name = inbox_page(user=world["manager"], age="all", sort="name", limit=2, now=NOW)
    # when Ann asks for Bob's MQLs, and the manager pastes the name cursor into the deadline sort
    with pytest.raises(ValidationFailed) as other_owner:
        inbox_page(user=ann, owner=str(bob.pk), now=NOW)
    with pytest.raises(ValidationFailed) as other_sort:
        inbox_page(user=world["manager"], age="all", sort="deadline", cursor=by_name.next_cursor or "", now=NOW)
    # then both are refused, naming the field
    assert (other_owner.value.field, other_owner.value.message) == ("owner", f"user {bob.pk} is not an owner you can see: you see your own MQLs")
    assert other_sort.value.field == "cursor" and "sorted by name" in other_sort.value.message


def _team_with_mqls(count: int) -> Any:
    manager = UserFactory(role=Role.SALES_MANAGER)
    team = TeamFactory(name="Squad", manager=manager)
    manager.team = team
    manager.save(update_fields=["team"])
    reps = [UserFactory(role=Role.SALES_REP, team=team) for _ in range(2)]
    webinar = Campaign.objects.create(name="June webinar", channel="webinar")
    # The pages read the clock: these hand-offs are of the last two days, one an hour.
    now = dt.datetime.now(UTC)
    for n in range(count):
        handoff = now - dt.timedelta(hours=n + 1)
        touched = handoff + dt.timedelta(minutes=10) if n % 4 == 0 else None
        _mql(reps[n % 2], handoff, f"Lee Lead{n:02d}", campaign=webinar if n % 3 else None, touched=touched, probability=0.5 if n % 2 else None)
    return manager


def _queries_for(client: Client, url: str, django_assert_max_num_queries: Any, **headers: str) -> int:
    with django_assert_max_num_queries(100) as captured:
        response = client.get(url, headers=headers)
    assert response.status_code == 200
    return len(captured.captured_queries)


@pytest.mark.parametrize("rows", [5, 50])
def test_the_page_costs_the_same_queries_for_5_and_50_rows(rows: int, django_assert_num_queries: Any) -> None:
    # given a manager whose team has 5 (or 50) open MQLs, some touched, scored and from a campaign
    manager = _team_with_mqls(rows)
    client = Client()
    client.force_login(manager)
    filtered = "/inbox/?age=all&sort=-score&channel=paid_search"
    # when the whole page, an HTMX swap of the list, and the API are read
    # then each costs a fixed number of queries, whatever the number of rows: session and user (2), the team's
    # members (1), the manager's reach (tandem.users.access: their teams and members, 1), the open MQLs, their
    # hand-offs and their touches (3), the policy and calendars (2), the page's people and hand-off details (2);
    # the whole page adds the campaigns of the filter and the notifications (2)
    with django_assert_num_queries(13):
        page = client.get("/inbox/")
    with django_assert_num_queries(11):
        swap = client.get(filtered, headers={"HX-Request": "true"})
    with django_assert_num_queries(11):
        api = client.get(f"/api/inbox?age=all&sort=-score&limit={rows}")
    assert page.status_code == swap.status_code == api.status_code == 200
    assert page.content.decode().count('class="inbox-row') == rows
    assert swap.content.decode().count('class="inbox-row') == rows and "<html" not in swap.content.decode()
    assert len(api.json()["items"]) == rows


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_page_shows_counts_the_older_backlog_and_refuses_a_bad_filter_by_name(world: dict[str, Any]) -> None:
    # given the manager (the world's hand-offs are all more than 30 days before the real clock, so all "older")
    client = _client(world["manager"])
    # when the manager opens the inbox, then all of it newest first, then a bad age, once whole and once by HTMX
    default = client.get("/inbox/").content.decode()
    everything = client.get("/inbox/?age=all&sort=-handoff").content.decode()
    bad = client.get("/inbox/?age=fortnight")
    bad_swap = client.get("/inbox/?age=fortnight", headers={"HX-Request": "true"})
    # then the default view lists nothing recent and says how many older ones wait, with a link to them
    assert 'class="inbox-row' not in default
    assert "6 more open MQLs handed off before" in default and "(4 never touched)" in default
    assert 'href="/inbox/?age=older"' in default
    # and "all" lists the six, newest first, each with its state, and the counts per state
    assert everything.count('class="inbox-row') == 6
    assert everything.index("Liam Later") < everything.index("Sam Soon") < everything.index("Otto Old")
    assert 'data-state="overdue"' in everything and 'data-state="met"' in everything
    assert 'Overdue <span class="chip-count">4</span>' in everything
    # and the "Handed off" header turns the sort around, the "Score" header sorts the highest first
    assert 'href="/inbox/?age=all&amp;sort=handoff"' in everything and 'href="/inbox/?age=all&amp;sort=-score"' in everything
    # and the bad value is a 422 naming the field and value, whole page or swapped list alike
    assert bad.status_code == bad_swap.status_code == 422
    assert "age must be one of 1d, 7d, 30d, 90d, older, all; got &#x27;fortnight&#x27;" in bad.content.decode()
    assert "age must be one of" in bad_swap.content.decode() and "<html" not in bad_swap.content.decode()


def test_accepting_and_rejecting_from_the_list_swap_the_row_and_a_refusal_changes_nothing(world: dict[str, Any]) -> None:
    # given Ann's overdue and due-soon MQLs
    ann, people = world["ann"], world["people"]
    client = _client(ann)
    htmx = {"HX-Request": "true"}
    # when she accepts one from the list, rejects another as "other" without a comment, then with one
    accepted = client.post(f"/inbox/{people['overdue'].pk}/accept/", headers=htmx)
    refused = client.post(f"/inbox/{people['soon'].pk}/reject/", {"reason_code": "other", "comment": " "}, headers=htmx)
    stage_after_refusal = Person.objects.get(pk=people["soon"].pk).lifecycle_stage
    rejected = client.post(f"/inbox/{people['soon'].pk}/reject/", {"reason_code": "other", "comment": "Agency"}, headers=htmx)
    # then the accepted row replaces the lead's row; the refusal lands beside the buttons and changes nothing
    assert accepted.status_code == 200 and f'id="answered-{people["overdue"].pk}"' in accepted.content.decode()
    assert "is now a sales-accepted lead" in accepted.content.decode()
    assert (refused.status_code, refused["HX-Retarget"], stage_after_refusal) == (422, f"#answer-error-{people['soon'].pk}", "mql")
    assert "Say what the other reason is." in refused.content.decode()
    assert rejected.status_code == 200 and "back to marketing as recycled (Other: Agency)" in rejected.content.decode()
    assert dict(Person.objects.filter(pk__in=[people["overdue"].pk, people["soon"].pk]).values_list("pk", "lifecycle_stage")) == {
        people["overdue"].pk: "sal",
        people["soon"].pk: "recycled",
    }


def test_without_javascript_an_answer_returns_to_the_same_filtered_page_and_never_elsewhere(world: dict[str, Any]) -> None:
    # given Ann's two MQLs
    ann, people = world["ann"], world["people"]
    client = _client(ann)
    # when she accepts one from a filtered page, the other with a "next" pointing to another site, and Bob's
    back = client.post(f"/inbox/{people['late'].pk}/accept/", {"next": "/inbox/?state=late&age=all"})
    away = client.post(f"/inbox/{people['soon'].pk}/accept/", {"next": "https://evil.example/inbox/"})
    bobs = client.post(f"/inbox/{people['met'].pk}/accept/", {"next": "/inbox/"})
    # then she returns to her filtered inbox; the foreign address is ignored; Bob's lead is out of her sight
    assert (back.status_code, back["Location"]) == (302, "/inbox/?state=late&age=all")
    assert (away.status_code, away["Location"]) == (302, "/inbox/")
    assert bobs.status_code == 404 and Person.objects.get(pk=people["met"].pk).lifecycle_stage == "mql"


def test_the_api_pages_filters_and_sorts_like_the_page_and_names_bad_fields(world: dict[str, Any]) -> None:
    # given the manager over the API
    client = _client(world["manager"])
    # when the manager reads two pages of everything by name, the untouched ones, and bad values
    first = client.get("/api/inbox?age=all&sort=name&limit=4").json()
    second = client.get(f"/api/inbox?age=all&sort=name&limit=4&cursor={first['next_cursor']}").json()
    untouched = client.get("/api/inbox?age=all&state=untouched&sort=name").json()
    bad_state = client.get("/api/inbox?state=late-ish")
    bad_limit = client.get("/api/inbox?limit=500")
    nul = client.get("/api/inbox?channel=%00")
    # then the pages follow each other, the state filter is exact, and each refusal names its field
    names = [i["name"] for i in first["items"] + second["items"]]
    assert names == ["Lea Late", "Liam Later", "Mia Met", "Olga Overdue", "Otto Old", "Sam Soon"]
    assert (first["total"], second["next_cursor"], second["prev_cursor"] is not None) == (6, None, True)
    assert [i["name"] for i in untouched["items"]] == ["Liam Later", "Olga Overdue", "Otto Old", "Sam Soon"]
    item = first["items"][1]
    assert (item["owner"]["id"], item["channel"], item["campaign"]["name"], item["state"]) == (world["bob"].pk, "webinar", "June webinar", "overdue")
    assert bad_state.status_code == 422 and (bad_state.json()["field"], bad_state.json()["value"]) == ("state", "late-ish")
    assert bad_limit.status_code == 422 and nul.status_code == 422


def test_an_mql_whose_hand_off_was_never_recorded_counts_from_its_creation(world: dict[str, Any]) -> None:
    # given a lead set to MQL without a stage change (as an old import might have left it), created 3 March 2025
    ann = world["ann"]
    person = PersonFactory(first_name="Ivy", last_name="Import")
    Person.objects.filter(pk=person.pk).update(lifecycle_stage="mql", owner=ann)
    # when Ann reads her inbox of every age
    page = inbox_page(user=ann, age="all", state="overdue", sort="handoff", now=NOW)
    # then the lead is listed, handed off at its creation, overdue two business hours later (Berlin, UTC+1)
    first = page.items[0]
    assert (str(first.person), first.mql_at, first.deadline) == (
        "Ivy Import",
        dt.datetime(2025, 3, 3, 9, 0, tzinfo=UTC),
        dt.datetime(2025, 3, 3, 11, 0, tzinfo=UTC),
    )
