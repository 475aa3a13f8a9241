"""The tasks API: create, list (your own by default), read, change, complete with an activity, reopen, delete."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from tandem.core.models import Event
from tandem.crm.agenda.services import task_create
from tandem.crm.models import Activity, Task
from tests.crm.agenda.factories import TaskFactory
from tests.crm.factories import PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

JSON = "application/json"


@pytest.fixture
def rep(client):  # type: ignore[no-untyped-def]
    user = UserFactory(role="sales_rep", time_zone="Europe/Berlin")
    client.force_login(user)
    return user


def _state() -> tuple[Any, ...]:
    return list(Task.objects.order_by("id").values()), Event.objects.count(), Activity.objects.count()


def _tomorrow() -> dt.datetime:
    return (timezone.now() + dt.timedelta(days=1)).replace(microsecond=0)


def test_creating_a_task_answers_201_with_the_task(client, rep) -> None:  # type: ignore[no-untyped-def]
    # given a person
    person = PersonFactory(owner=rep, first_name="Ada", last_name="Lovelace")
    due = _tomorrow().replace(tzinfo=None)
    # when the rep posts a task with a due time without an offset (read in their zone, Berlin)
    response = client.post(
        "/api/tasks",
        {"title": "Call back", "due_at": due.isoformat(), "person_id": person.pk, "activity_kind": "call"},
        content_type=JSON,
    )
    # then it is theirs, due at that Berlin time, about Ada
    assert response.status_code == 201
    body = response.json()
    task = Task.objects.get()
    assert task.due_at == due.replace(tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert {
        k: body[k]
        for k in ("id", "title", "state", "owner_id", "person_id", "person", "activity_kind", "priority")
    } == {
        "id": task.pk,
        "title": "Call back",
        "state": "open",
        "owner_id": rep.pk,
        "person_id": person.pk,
        "person": "Ada Lovelace",
        "activity_kind": "call",
        "priority": "normal",
    }


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"due_at": "2026-12-24T09:00:00+00:00"}, "title"),
        ({"title": "Call\u0000back"}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "  "}, "title"),
        ({"due_at": "soon"}, "due_at"),
        ({"due_at": "1999-01-01T09:00:00+00:00"}, "due_at"),
        ({"priority": "urgent"}, "priority"),
        ({"person_id": 999_999}, "person_id"),
        ({"person_id": 0}, "person_id"),
        ({"deal_id": 999_999}, "deal_id"),
        ({"account_id": 999_999}, "account_id"),
        ({"owner_id": 999_999}, "owner_id"),
        ({"activity_kind": "fax"}, "activity_kind"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_answers_4xx_naming_the_field_and_changes_nothing(client, rep, payload, field) -> None:  # type: ignore[no-untyped-def]
    # given a valid task but for one value
    body = {"title": "Call back", "due_at": _tomorrow().isoformat(), **payload}
    if "title" not in payload and field == "title":
        body.pop("title")
    before = _state()
    # when posted
    response = client.post("/api/tasks", body, content_type=JSON)
    # then 422 names the field, and nothing was written
    assert response.status_code == 422
    answer = response.json()
    assert answer.get("field") == field or answer["errors"][0]["field"] == field
    assert _state() == before


def test_the_list_is_mine_by_default_filtered_and_paged_with_pinned_queries(
    client, rep, django_assert_num_queries
) -> None:  # type: ignore[no-untyped-def]
    # given three of the rep's tasks (one overdue, one done) and a colleague's
    now = timezone.now()
    overdue = TaskFactory(owner=rep, due_at=now - dt.timedelta(hours=1))
    later = TaskFactory(owner=rep, due_at=now + dt.timedelta(days=3))
    done = TaskFactory(owner=rep, due_at=now - dt.timedelta(hours=5), done_at=now, done_by=rep)
    TaskFactory(owner=UserFactory(role="sales_rep"), due_at=now)
    # when the list is read: session, user, the permission (user's and group's), one page
    with django_assert_num_queries(5):
        first = client.get("/api/tasks?state=open&limit=1")
    second = client.get(f"/api/tasks?state=open&limit=1&cursor={first.json()['next_cursor']}")
    overdue_only = client.get("/api/tasks?state=overdue").json()
    done_only = client.get("/api/tasks?state=done").json()
    everything = client.get("/api/tasks").json()
    # then only the rep's, in due order, each state as asked
    assert [i["id"] for i in first.json()["items"]] == [overdue.pk]
    assert [i["id"] for i in second.json()["items"]] == [later.pk]
    assert [(i["id"], i["state"]) for i in overdue_only["items"]] == [(overdue.pk, "overdue")]
    assert [(i["id"], i["state"]) for i in done_only["items"]] == [(done.pk, "done")]
    assert [i["id"] for i in everything["items"]] == [done.pk, overdue.pk, later.pk]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("state=late", "state"),
        ("owner=bob", "owner"),
        ("limit=0", "limit"),
        ("cursor=zzz", "cursor"),
        ("person_id=0", "person_id"),
    ],
)
def test_bad_list_filters_answer_422_naming_them(client, rep, query, field) -> None:  # type: ignore[no-untyped-def]
    # when / then
    response = client.get(f"/api/tasks?{query}")
    assert response.status_code == 422
    answer = response.json()
    assert answer.get("field") == field or answer["errors"][0]["field"] == field


def test_another_reps_task_is_not_found_and_a_manager_reassigns_within_the_team(client, rep) -> None:  # type: ignore[no-untyped-def]
    # given a manager of the rep's team, and a colleague outside it
    manager = UserFactory(role="sales_manager")
    team = TeamFactory(name="Berlin", manager=manager)
    rep.team = team
    rep.save(update_fields=["team"])
    ann = UserFactory(role="sales_rep", team=team)
    theirs = TaskFactory(owner=UserFactory(role="sales_rep"))
    mine = task_create(title="Call", due_at=_tomorrow(), by_user=rep)
    # when the rep reads someone else's task and gives their own away
    hidden = client.get(f"/api/tasks/{theirs.pk}")
    give = client.patch(f"/api/tasks/{mine.pk}", {"owner_id": ann.pk}, content_type=JSON)
    # then 404 and 403; as the manager, the reassignment works
    assert (hidden.status_code, give.status_code, give.json()["field"]) == (404, 403, "owner_id")
    client.force_login(manager)
    moved = client.patch(f"/api/tasks/{mine.pk}", {"owner_id": ann.pk, "priority": "high"}, content_type=JSON)
    assert moved.status_code == 200
    assert (moved.json()["owner_id"], moved.json()["priority"]) == (ann.pk, "high")
    assert client.get(f"/api/tasks?owner={ann.pk}").json()["items"][0]["id"] == mine.pk


def test_completing_with_an_activity_logs_it_and_reopen_and_delete_work(client, rep) -> None:  # type: ignore[no-untyped-def]
    # given a call task about a person
    person = PersonFactory(owner=rep)
    task = task_create(
        title="First touch", due_at=_tomorrow(), person_id=person.pk, activity_kind="call", by_user=rep
    )
    # when completed with a connected call
    done = client.post(
        f"/api/tasks/{task.pk}/complete",
        {"activity": {"outcome": "connected", "notes": "Booked a demo"}},
        content_type=JSON,
    )
    again = client.post(f"/api/tasks/{task.pk}/complete", {}, content_type=JSON)
    # then the call is logged and linked; completing twice is a 409
    activity = Activity.objects.get()
    assert done.status_code == 200
    assert (done.json()["state"], done.json()["activity_id"], done.json()["done_by_id"]) == (
        "done",
        activity.pk,
        rep.pk,
    )
    assert (activity.person_id, activity.kind_id, activity.outcome, activity.notes) == (
        person.pk,
        "call",
        "connected",
        "Booked a demo",
    )
    assert (again.status_code, again.json()["field"]) == (409, "done_at")
    # when reopened, then deleted
    reopened = client.post(f"/api/tasks/{task.pk}/reopen")
    deleted = client.delete(f"/api/tasks/{task.pk}")
    # then open again, then gone (the logged call stays)
    assert (reopened.status_code, reopened.json()["state"], reopened.json()["done_at"]) == (200, "open", None)
    assert deleted.status_code == 204 and not Task.objects.exists() and Activity.objects.count() == 1


def test_a_refused_activity_on_completion_answers_422_and_changes_nothing(client, rep) -> None:  # type: ignore[no-untyped-def]
    # given a call task about a person
    task = task_create(
        title="Call", due_at=_tomorrow(), person_id=PersonFactory(owner=rep).pk, activity_kind="call", by_user=rep
    )
    before = _state()
    # when completed with an outcome no activity has
    response = client.post(
        f"/api/tasks/{task.pk}/complete", {"activity": {"outcome": "maybe"}}, content_type=JSON
    )
    # then 422 names it, the task is still open
    assert (response.status_code, response.json()["field"]) == (422, "outcome")
    assert _state() == before


def test_without_sign_in_401_and_a_viewer_may_read_but_not_write(client, db) -> None:  # type: ignore[no-untyped-def]
    # given a viewer
    viewer = UserFactory(role="viewer")
    body = {"title": "Call", "due_at": _tomorrow().isoformat()}
    # when
    anonymous = client.post("/api/tasks", body, content_type=JSON)
    client.force_login(viewer)
    reads = client.get("/api/tasks")
    writes = client.post("/api/tasks", body, content_type=JSON)
    # then
    assert (anonymous.status_code, reads.status_code, writes.status_code) == (401, 200, 403)
    assert not Task.objects.exists()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("due_from=0001-01-01T00:00:00%2B01:00", "due_from"),
        ("due_to=9999-12-31T23:59:59-05:00", "due_to"),
        ("due_from=0001-01-01T00:00:00", "due_from"),  # read in Berlin: before year 1 in UTC
    ],
)
def test_a_due_range_beyond_the_calendar_is_a_422_not_a_500(client, rep, query, field) -> None:  # type: ignore[no-untyped-def]
    # when / then
    response = client.get(f"/api/tasks?{query}")
    assert (response.status_code, response.json()["field"]) == (422, field)
