from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.keyset import Cursor, cursor_decode, cursor_encode
from tandem.crm.models import Person
from tandem.crm.selectors import (
    crm_totals,
    leads_weekly_by_channel,
    people_count_by_stage,
    people_list,
    people_page_query,
    person_detail,
    team_pipeline,
)
from tandem.crm.services import deal_close, deal_create, lost_reason_get_or_create, person_change_stage
from tests.campaigns.factories import CampaignFactory, TouchpointFactory
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)


def _walk(*, limit: int, **filters: str) -> list[int]:
    ids: list[int] = []
    cursor = ""
    while True:
        page = people_list(cursor=cursor, limit=limit, **filters)
        ids += [p.pk for p in page.items]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def _walk_back(*, limit: int, start: str, **filters: str) -> list[int]:
    ids: list[int] = []
    cursor = start
    while cursor:
        page = people_list(cursor=cursor, limit=limit, **filters)
        ids = [p.pk for p in page.items] + ids
        cursor = page.prev_cursor or ""
    return ids


@pytest.fixture
def tied_people(db):
    # 23 people over 4 timestamps: most share their created_at with others, so only the id breaks ties.
    people = []
    for i in range(23):
        people.append(PersonFactory(created_at=T0 + dt.timedelta(minutes=i % 4)))
    return people


def test_walking_all_pages_gives_every_person_once_newest_first_with_ties_by_id(tied_people):
    # given
    expected = list(Person.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    # when
    walked = _walk(limit=5)
    # then
    assert walked == expected
    assert len(walked) == 23


def test_walking_back_from_the_last_page_gives_the_same_rows(tied_people):
    # given the cursor of the last page, reached forward
    expected = list(Person.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    pages = [people_list(limit=5)]
    while pages[-1].next_cursor:
        pages.append(people_list(limit=5, cursor=pages[-1].next_cursor))
    # when walking "Newer" from the last page back to the first
    walked = _walk_back(limit=5, start=pages[-1].prev_cursor or "") + [p.pk for p in pages[-1].items]
    # then
    assert walked == expected
    assert pages[0].prev_cursor is None
    assert people_list(limit=5, cursor=pages[1].prev_cursor or "").prev_cursor is None


def test_first_page_has_no_newer_link_and_last_page_no_older_link(tied_people):
    # given / when
    first = people_list(limit=20)
    last = people_list(limit=20, cursor=first.next_cursor or "")
    # then
    assert first.prev_cursor is None and first.next_cursor is not None
    assert len(last.items) == 3
    assert last.next_cursor is None and last.prev_cursor is not None


def test_filters_by_stage_owner_unassigned_and_channel(db):
    # given
    rep = UserFactory()
    a = PersonFactory(owner=rep, original_channel="webinar", stage="mql")
    b = PersonFactory(owner=rep, original_channel="paid_search", stage="lead")
    c = PersonFactory(original_channel="webinar", stage="lead")
    # when
    by_stage = [p.pk for p in people_list(stage="lead").items]
    by_owner = [p.pk for p in people_list(owner=str(rep.pk)).items]
    unassigned = [p.pk for p in people_list(owner="none").items]
    by_channel = [p.pk for p in people_list(channel="webinar").items]
    combined = [p.pk for p in people_list(owner=str(rep.pk), channel="webinar").items]
    # then (same created_at: newest first means highest id first)
    assert by_stage == [c.pk, b.pk]
    assert by_owner == [b.pk, a.pk]
    assert unassigned == [c.pk]
    assert by_channel == [c.pk, a.pk]
    assert combined == [a.pk]


def test_name_search_is_a_case_insensitive_prefix_sorted_by_name_then_id(db):
    # given
    PersonFactory(first_name="Maria", last_name="Weber")
    m1 = PersonFactory(first_name="Mark", last_name="Olsen")
    m2 = PersonFactory(first_name="Mark", last_name="Adams")
    m3 = PersonFactory(first_name="mark", last_name="adams")
    PersonFactory(first_name="Anna", last_name="Mark")
    # when
    page = people_list(q="  MARK ")
    full = people_list(q="mark   adams")
    # then
    assert page.order == "name"
    assert [p.pk for p in page.items] == [m2.pk, m3.pk, m1.pk]
    assert [p.pk for p in full.items] == [m2.pk, m3.pk]


def test_search_with_an_at_sign_is_an_email_prefix(db):
    # given
    a = PersonFactory(email="Ana.Lopez@Acme.example")
    PersonFactory(email="ana.lopez@other.example")
    PersonFactory(email="bob@acme.example")
    # when
    page = people_list(q="ana.lopez@acme")
    # then
    assert page.order == "email"
    assert [p.pk for p in page.items] == [a.pk]


def test_search_pages_walk_the_whole_match_with_filters(db):
    # given 12 "Sam ..." people, 8 of them leads; ties on name are broken by id
    sams = [
        PersonFactory(first_name="Sam", last_name=f"K{i % 3}", stage="lead" if i % 3 else "mql")
        for i in range(12)
    ]
    PersonFactory(first_name="Samantha", last_name="Z")
    expected = list(
        Person.objects.filter(pk__in=[p.pk for p in sams], lifecycle_stage="lead")
        .order_by("name_key", "id")
        .values_list("id", flat=True)
    )
    # when
    walked = _walk(limit=3, q="sam k", stage="lead")
    # then
    assert walked == expected
    assert len(walked) == 8


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"stage": "champion"}, "stage", "unknown lifecycle stage 'champion'"),
        ({"channel": "tv"}, "channel", "unknown channel 'tv'"),
        ({"owner": "bob"}, "owner", "owner must be a user id or 'none', got 'bob'"),
        ({"owner": "99999"}, "owner", "owner must be a user id or 'none', got '99999'"),
        ({"owner": "99999999999999999999999"}, "owner", "owner must be a user id"),
        ({"cursor": "not-a-cursor"}, "cursor", "cursor 'not-a-cursor' is not a valid page cursor"),
        ({"limit": 0}, "limit", "limit must be between 1 and 200, got 0"),
        ({"limit": 201}, "limit", "limit must be between 1 and 200, got 201"),
    ],
)
def test_bad_filters_are_refused_naming_field_and_value(db, params, field, message):
    # given / when
    with pytest.raises(ValidationFailed) as err:
        people_list(**params)
    # then
    assert err.value.field == field
    assert message in err.value.message


def test_a_cursor_from_a_name_search_is_refused_by_the_newest_first_list(db):
    # given
    token = cursor_encode(Cursor("name", "mark olsen", 3))
    # when
    with pytest.raises(ValidationFailed, match="belongs to a list sorted by name, not recent"):
        people_list(cursor=token)
    # then: a round trip keeps every part
    assert cursor_decode(token, order="name") == Cursor("name", "mark olsen", 3, backward=False)


def test_recent_cursor_with_a_broken_timestamp_is_refused(db):
    # given
    token = cursor_encode(Cursor("recent", "yesterday", 3))
    # when / then
    with pytest.raises(ValidationFailed, match="is not a valid page cursor"):
        people_list(cursor=token)


@pytest.mark.parametrize(
    ("params", "indexes"),
    [
        ({}, ["person_recent"]),
        ({"cursor": cursor_encode(Cursor("recent", T0.isoformat(), 10))}, ["person_recent"]),
        ({"stage": "lead"}, ["person_stage_recent"]),
        # Without statistics PostgreSQL may walk person_recent and filter: just as sort-free.
        ({"owner": "none"}, ["person_owner_recent", "person_recent"]),
        ({"channel": "webinar"}, ["person_channel_recent"]),
        ({"q": "mark"}, ["person_name_key"]),
        ({"q": "mark", "stage": "lead", "owner": "none", "channel": "webinar"}, ["person_name_key"]),
        ({"q": "mark@acme"}, ["person_email"]),
    ],
)
def test_each_list_query_walks_its_index_without_sorting(db, params, indexes):
    # given a planner that would rather scan a tiny table: make it show the plan it uses at scale
    query = people_page_query(**params)[:51]
    # when
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("SET LOCAL enable_seqscan = off")
            cur.execute("SET LOCAL enable_sort = off")
            cur.execute("SET LOCAL enable_incremental_sort = off")
            plan = query.explain()
    else:
        plan = query.explain()
    # then
    assert any(index in plan for index in indexes), plan
    assert "TEMP B-TREE" not in plan
    assert "Sort" not in plan.replace("Sort Key", "")


def test_person_detail_lists_each_part_in_display_order(db):
    # given
    rep = UserFactory()
    person = PersonFactory(owner=rep)
    campaign = CampaignFactory(name="Spring webinar")
    late = TouchpointFactory(person=person, occurred_at=T0 + dt.timedelta(days=2), campaign=campaign)
    early = TouchpointFactory(person=person, occurred_at=T0, channel="email", kind="email_open")
    person_change_stage(
        person=person, to_stage="mql", at=T0 + dt.timedelta(days=1), rule="mql", rule_version=2
    )
    deal = deal_create(person=person, amount=Decimal("900"), created_at=T0 + dt.timedelta(days=3))
    # when
    detail = person_detail(person_id=person.pk)
    # then
    assert [t.pk for t in detail.touchpoints] == [early.pk, late.pk]
    assert [(c.from_stage, c.to_stage) for c in detail.stage_changes] == [
        ("", "lead"),
        ("lead", "mql"),
        ("mql", "opportunity"),
    ]
    assert [d.pk for d in detail.deals] == [deal.pk]
    assert detail.touchpoints_truncated is False


def test_person_detail_of_an_unknown_id_is_not_found(db):
    # given / when / then
    with pytest.raises(NotFound, match="no person with id 424242"):
        person_detail(person_id=424242)


def test_counts_by_stage_and_totals(db):
    # given
    rep = UserFactory()
    PersonFactory(stage="lead", owner=rep)
    PersonFactory(stage="lead")
    customer = PersonFactory(stage="mql")
    deal = deal_create(person=customer, amount=Decimal("1000"))
    deal_close(deal=deal, won=True)
    deal_create(person=PersonFactory(), amount=Decimal("250.50"))
    # when
    everyone = {c.stage: c.count for c in people_count_by_stage()}
    mine = {c.stage: c.count for c in people_count_by_stage(owner=rep)}
    totals = crm_totals()
    # then
    assert everyone == {
        "subscriber": 0,
        "lead": 2,
        "mql": 0,
        "sal": 0,
        "sql": 0,
        "opportunity": 1,
        "customer": 1,
        "recycled": 0,
        "disqualified": 0,
    }
    assert mine["lead"] == 1 and sum(mine.values()) == 1
    assert totals == {
        "people": 4,
        "deals": 2,
        "open_deals": 1,
        "pipeline": Decimal("250.50"),
        "won": Decimal("1000.00"),
    }


def test_leads_this_week_and_last_week_by_channel(db):
    # given Wednesday 2025-03-12; this week starts Monday 2025-03-10
    now = dt.datetime(2025, 3, 12, 15, 0, tzinfo=dt.UTC)
    PersonFactory(created_at=dt.datetime(2025, 3, 10, 0, 0, tzinfo=dt.UTC), original_channel="webinar")
    PersonFactory(created_at=dt.datetime(2025, 3, 11, 8, 0, tzinfo=dt.UTC), original_channel="webinar")
    PersonFactory(created_at=dt.datetime(2025, 3, 9, 23, 59, tzinfo=dt.UTC), original_channel="webinar")
    PersonFactory(created_at=dt.datetime(2025, 3, 3, 0, 0, tzinfo=dt.UTC), original_channel="email")
    PersonFactory(created_at=dt.datetime(2025, 3, 2, 23, 0, tzinfo=dt.UTC), original_channel="email")
    # when
    leads = leads_weekly_by_channel(now=now)
    # then
    assert [(c.channel, c.this_week, c.last_week) for c in leads.channels] == [
        ("webinar", 2, 1),
        ("email", 0, 1),
    ]
    assert (leads.this_week, leads.last_week) == (2, 2)


def test_team_pipeline_per_rep(db):
    # given
    month = dt.datetime(2025, 5, 1, tzinfo=dt.UTC)
    ann, bob = UserFactory(first_name="Ann"), UserFactory(first_name="Bob")
    PersonFactory(owner=ann, stage="mql")
    PersonFactory(owner=ann, stage="customer")
    won = deal_create(person=PersonFactory(owner=ann), amount=Decimal("500"), owner=ann)
    deal_close(deal=won, won=True, at=month + dt.timedelta(days=2))
    old = deal_create(person=PersonFactory(owner=ann), amount=Decimal("700"), owner=ann)
    deal_close(deal=old, won=True, at=month - dt.timedelta(days=2))
    lost = deal_create(person=PersonFactory(owner=bob), amount=Decimal("50"), owner=bob)
    deal_close(deal=lost, won=False, lost_reason=lost_reason_get_or_create(name="No budget"), at=month)
    deal_create(person=PersonFactory(owner=bob), amount=Decimal("300"), owner=bob)
    # when
    team = team_pipeline(reps=[ann, bob], month_start=month)
    # then
    assert [
        (r.user, r.open_leads, r.open_deals, r.open_amount, r.won_this_month, r.won_amount) for r in team.rows
    ] == [
        (ann, 1, 0, Decimal("0"), 1, Decimal("500.00")),
        (bob, 0, 1, Decimal("300.00"), 0, Decimal("0")),
    ]
    assert (team.total.open_leads, team.total.open_deals, team.total.won_this_month) == (1, 1, 1)
