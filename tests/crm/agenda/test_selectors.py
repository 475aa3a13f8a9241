"""My tasks: buckets cut at the owner's midnight, keyset pages, whose tasks a user sees, pinned query counts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tandem.core.errors import NotFound, ValidationFailed
from tandem.crm.agenda.selectors import day_bounds, task_get, tasks_day, tasks_page, user_zone
from tests.crm.agenda.factories import TaskFactory
from tests.crm.factories import PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")


def _local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=NEW_YORK)


def _ids(tasks: list) -> list[int]:  # type: ignore[type-arg]
    return [t.pk for t in tasks]


def test_buckets_are_cut_at_midnight_in_the_owners_time_zone() -> None:
    # given a rep in New York (UTC-5 in March before DST) and tasks around their midnight of 10 March 2026
    rep = UserFactory(role="sales_rep", time_zone="America/New_York")
    late = TaskFactory(owner=rep, title="late", due_at=_local(2026, 3, 10, 23, 0))
    last_second = TaskFactory(owner=rep, title="last second", due_at=_local(2026, 3, 10, 23, 59, 59))
    midnight = TaskFactory(owner=rep, title="midnight", due_at=_local(2026, 3, 11, 0, 0))
    half_past = TaskFactory(owner=rep, title="half past", due_at=_local(2026, 3, 11, 0, 30))
    done_at_midnight = TaskFactory(
        owner=rep, due_at=_local(2026, 3, 10, 9, 0), done_at=_local(2026, 3, 10, 0, 0), done_by=rep
    )
    TaskFactory(
        owner=rep, due_at=_local(2026, 3, 9, 9, 0), done_at=_local(2026, 3, 9, 23, 59, 59), done_by=rep
    )
    TaskFactory(owner=UserFactory(role="sales_rep"), due_at=_local(2026, 3, 10, 23, 30))  # someone else's
    # when the day is read at 23:30 on the 10th (04:30 UTC on the 11th), then one second after midnight
    evening = tasks_day(user=rep, now=_local(2026, 3, 10, 23, 30))
    after = tasks_day(user=rep, now=_local(2026, 3, 11, 0, 0, 1))
    # then each task sits in its local day's bucket, and midnight moves them
    assert {s: _ids(p.items) for s, p in evening.buckets.items()} == {
        "overdue": [late.pk],
        "today": [last_second.pk],
        "upcoming": [midnight.pk, half_past.pk],
        "done_today": [done_at_midnight.pk],
    }
    assert evening.counts == {"overdue": 1, "today": 1, "upcoming": 2, "done_today": 1}
    assert evening.today == dt.date(2026, 3, 10) and evening.zone == NEW_YORK
    assert {s: _ids(p.items) for s, p in after.buckets.items()} == {
        "overdue": [late.pk, last_second.pk, midnight.pk],
        "today": [half_past.pk],
        "upcoming": [],
        "done_today": [],
    }
    assert after.today == dt.date(2026, 3, 11)


def test_a_utc_colleague_cuts_the_same_moment_at_their_own_midnight() -> None:
    # given the same task due 23:59:59 New York time (04:59:59 UTC next day) for a rep working in UTC
    rep = UserFactory(role="sales_rep", time_zone="UTC")
    task = TaskFactory(owner=rep, due_at=_local(2026, 3, 10, 23, 59, 59))
    # when read at 23:30 New York time (04:30 UTC on the 11th)
    day = tasks_day(user=rep, now=_local(2026, 3, 10, 23, 30))
    # then for them it is due today, the 11th
    assert (day.today, _ids(day.buckets["today"].items)) == (dt.date(2026, 3, 11), [task.pk])


def test_day_bounds_follow_daylight_saving_and_unknown_zones_read_as_utc() -> None:
    # given Berlin's spring-forward day (23 hours) and a user with a zone name nobody knows
    berlin = ZoneInfo("Europe/Berlin")
    # when the day around noon is cut
    start, end = day_bounds(zone=berlin, now=dt.datetime(2026, 3, 29, 12, 0, tzinfo=dt.UTC))
    # then it starts at 23:00 UTC the day before and lasts 23 hours
    assert (start, end - start) == (dt.datetime(2026, 3, 28, 23, 0, tzinfo=dt.UTC), dt.timedelta(hours=23))
    assert user_zone(UserFactory.build(time_zone="Mars/Olympus")).key == "UTC"


def test_pages_walk_forward_and_back_with_ties_on_the_due_time_ordered_by_id() -> None:
    # given five open tasks, two due at the same moment, and a done one
    rep = UserFactory(role="sales_rep")
    base = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)
    tasks = [TaskFactory(owner=rep, due_at=base + dt.timedelta(hours=h)) for h in (3, 0, 1, 1, 2)]
    TaskFactory(owner=rep, due_at=base, done_at=base, done_by=rep)
    order = [tasks[1].pk, tasks[2].pk, tasks[3].pk, tasks[4].pk, tasks[0].pk]
    now = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    # when the open tasks are read two at a time, then back from the last page
    first = tasks_page(user=rep, state="open", limit=2, now=now)
    second = tasks_page(user=rep, state="open", limit=2, cursor=first.next_cursor or "", now=now)
    third = tasks_page(user=rep, state="open", limit=2, cursor=second.next_cursor or "", now=now)
    back = tasks_page(user=rep, state="open", limit=2, cursor=third.prev_cursor or "", now=now)
    # then the pages follow (due time, id) and going back returns the page before
    assert [_ids(p.items) for p in (first, second, third)] == [order[:2], order[2:4], order[4:]]
    assert (first.prev_cursor, third.next_cursor) == (None, None)
    assert _ids(back.items) == order[2:4]


def test_filters_by_person_and_due_range_and_done_latest_first() -> None:
    # given tasks about two people, some done
    rep = UserFactory(role="sales_rep")
    ada, bo = PersonFactory(), PersonFactory()
    base = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)
    a1 = TaskFactory(owner=rep, person=ada, due_at=base)
    a2 = TaskFactory(owner=rep, person=ada, due_at=base + dt.timedelta(days=2))
    TaskFactory(owner=rep, person=bo, due_at=base)
    d1 = TaskFactory(owner=rep, due_at=base, done_at=base - dt.timedelta(hours=2), done_by=rep)
    d2 = TaskFactory(owner=rep, due_at=base, done_at=base - dt.timedelta(hours=1), done_by=rep)
    # when filtered
    about_ada = tasks_page(user=rep, person_id=ada.pk)
    this_week = tasks_page(user=rep, person_id=ada.pk, due_from=base, due_to=base + dt.timedelta(days=1))
    done = tasks_page(user=rep, state="done")
    # then
    assert (_ids(about_ada.items), _ids(this_week.items), _ids(done.items)) == (
        [a1.pk, a2.pk],
        [a1.pk],
        [d2.pk, d1.pk],
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"state": "late"}, "state"),
        ({"limit": 0}, "limit"),
        ({"limit": 201}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"owner": "bob"}, "owner"),
        ({"due_from": dt.datetime(2026, 12, 8)}, "due_from"),
        (
            {
                "due_from": dt.datetime(2026, 12, 8, tzinfo=dt.UTC),
                "due_to": dt.datetime(2026, 12, 7, tzinfo=dt.UTC),
            },
            "due_to",
        ),
    ],
)
def test_bad_filters_name_their_field(kwargs: dict, field: str) -> None:  # type: ignore[type-arg]
    # given a rep
    rep = UserFactory(role="sales_rep")
    # when a list is asked with a bad filter, then the error names it
    with pytest.raises(ValidationFailed) as refused:
        tasks_page(user=rep, **kwargs)
    assert refused.value.field == field


def test_a_rep_sees_their_own_a_manager_their_team_an_admin_everyone() -> None:
    # given a manager's team of one rep, a rep outside it, and an admin
    manager = UserFactory(role="sales_manager")
    team = TeamFactory(name="East", manager=manager)
    ann, out = UserFactory(role="sales_rep", team=team), UserFactory(role="sales_rep")
    admin = UserFactory(role="admin")
    mine, anns, outs = TaskFactory(owner=manager), TaskFactory(owner=ann), TaskFactory(owner=out)
    # when each lists tasks
    with pytest.raises(ValidationFailed) as rep_asks:
        tasks_page(user=ann, owner=str(out.pk))
    with pytest.raises(ValidationFailed) as manager_asks:
        tasks_page(user=manager, owner=str(out.pk))
    # then a rep sees only their own (even when asking for "all"), a manager their team, an admin all
    assert (rep_asks.value.field, manager_asks.value.field) == ("owner", "owner")
    assert _ids(tasks_page(user=ann, owner="all").items) == [anns.pk]
    assert sorted(_ids(tasks_page(user=manager, owner="all").items)) == sorted([mine.pk, anns.pk])
    assert _ids(tasks_page(user=manager, owner=str(ann.pk)).items) == [anns.pk]
    assert _ids(tasks_page(user=manager).items) == [mine.pk]
    assert sorted(_ids(tasks_page(user=admin, owner="all").items)) == sorted([mine.pk, anns.pk, outs.pk])
    # and one task: a rep's own, a manager's team member's, never another team's
    assert task_get(task_id=anns.pk, user=manager).pk == anns.pk
    with pytest.raises(NotFound):
        task_get(task_id=outs.pk, user=manager)
    with pytest.raises(NotFound):
        task_get(task_id=anns.pk, user=out)


def test_query_counts_are_pinned(django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    # given a rep with tasks in every bucket and a manager of a team
    rep = UserFactory(role="sales_rep")
    now = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)
    for hours in (-30, -1, 2, 30):
        TaskFactory(owner=rep, due_at=now + dt.timedelta(hours=hours), person=PersonFactory())
    TaskFactory(owner=rep, due_at=now, done_at=now - dt.timedelta(hours=1), done_by=rep)
    manager = UserFactory(role="sales_manager")
    TeamFactory(name="Pinned", manager=manager)
    # when the day is read: one count for all buckets, one page per bucket (and the team, for a manager)
    with django_assert_num_queries(5):
        day = tasks_day(user=rep, now=now)
    with django_assert_num_queries(2):
        tasks_day(user=manager, owner="all", now=now, buckets=("overdue",))
    with django_assert_num_queries(1):
        page = tasks_page(user=rep, state="open", limit=2, now=now)
    with django_assert_num_queries(1):
        tasks_page(user=rep, state="open", limit=2, cursor=page.next_cursor or "", now=now)
    # then the rows came with what the rows show, no query more
    with django_assert_num_queries(0):
        _ = [(str(t.person), str(t.owner)) for p in day.buckets.values() for t in p.items]
