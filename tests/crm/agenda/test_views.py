"""Task pages: My tasks, the rep's home, the person page's tasks card, completing in place, the inbox's offer."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from tandem.core.models import Event
from tandem.crm.agenda.services import task_create
from tandem.crm.models import Activity, Person, Task
from tandem.crm.services import person_change_stage
from tandem.lifecycle.selectors import person_first_touch
from tests.crm.agenda.factories import TaskFactory
from tests.crm.factories import PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _text(response) -> str:  # type: ignore[no-untyped-def]
    return " ".join(response.content.decode().split())


def test_my_tasks_shows_each_section_with_pinned_queries(client, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    # given a rep with an overdue task about a person, one due later today, one next week, one done today
    rep = UserFactory(role="sales_rep")
    now = timezone.now()
    ada = PersonFactory(first_name="Ada", last_name="Lovelace")
    TaskFactory(
        owner=rep,
        title="Call Ada",
        person=ada,
        due_at=now - dt.timedelta(minutes=30),
        activity_kind_id="call",
    )
    TaskFactory(owner=rep, title="Prepare demo", due_at=now + dt.timedelta(days=7), priority="high")
    TaskFactory(owner=rep, title="Old one", due_at=now - dt.timedelta(days=1), done_at=now, done_by=rep)
    TaskFactory(owner=UserFactory(role="sales_rep"), title="Not mine", due_at=now)
    client.force_login(rep)
    # when the page is read: session, user, permissions (user's, group's), counts, three non-empty sections,
    # the activity kinds for the log form
    with django_assert_num_queries(9):
        response = client.get("/tasks/")
    # then
    body = _text(response)
    assert response.status_code == 200
    assert "<h1>My tasks</h1>" in body and "Not mine" not in body
    overdue = body.split('data-testid="tasks-overdue"')[1].split("</section>")[0]
    assert (
        "Call Ada" in overdue
        and f'href="/people/{ada.pk}/">Ada Lovelace</a>' in overdue
        and "Done + log…" in overdue
    )
    assert "Prepare demo" in body.split('data-testid="tasks-upcoming"')[1].split("</section>")[0]
    assert "Old one" in body.split('data-testid="tasks-done_today"')[1].split("</section>")[0]
    assert 'data-state="overdue">Overdue <span class="chip-count">1</span>' in body


def test_show_more_pages_a_section_and_a_bad_cursor_is_an_error_not_a_500(client) -> None:  # type: ignore[no-untyped-def]
    # given 27 upcoming tasks (a section shows 25)
    rep = UserFactory(role="sales_rep")
    start = timezone.now() + dt.timedelta(days=2)
    for i in range(27):
        TaskFactory(owner=rep, title=f"Later {i:02d}", due_at=start + dt.timedelta(minutes=i))
    client.force_login(rep)
    # when the page is read and "Show more" followed
    body = client.get("/tasks/").content.decode()
    more = re.search(r'hx-get="(/tasks/\?state=upcoming&amp;cursor=[^"]+)"', body)
    assert more is not None
    rows = client.get(more.group(1).replace("&amp;", "&"), **HX).content.decode()
    bad = client.get("/tasks/?state=upcoming&cursor=zzz", **HX)
    # then the last two come, and a bad cursor says so
    assert "Later 24" in body and "Later 25" not in body
    assert "Later 25" in rows and "Later 26" in rows and "Show more" not in rows
    assert bad.status_code == 422 and "not a valid page cursor" in bad.content.decode()


def test_a_manager_picks_an_owner_of_the_team(client) -> None:  # type: ignore[no-untyped-def]
    # given a manager and a rep of the team with a task
    manager = UserFactory(role="sales_manager")
    ann = UserFactory(
        role="sales_rep", first_name="Ann", last_name="Team", team=TeamFactory(name="T", manager=manager)
    )
    TaskFactory(owner=ann, title="Ann's call")
    client.force_login(manager)
    # when the manager reads their own, then Ann's, then the team's
    own, anns, team = (client.get(f"/tasks/?owner={o}").content.decode() for o in ("", ann.pk, "all"))
    # then
    assert "Ann's call" not in own and f'<option value="{ann.pk}">Ann Team</option>' in own
    assert "<h1>Tasks of Ann Team</h1>" in anns and "Ann&#x27;s call" in anns
    assert "<h1>My team's tasks</h1>" in team and "Ann&#x27;s call" in team


def test_completing_in_place_logs_the_call_and_refreshes_the_counts(client) -> None:  # type: ignore[no-untyped-def]
    # given a rep's overdue call task about a person
    rep = UserFactory(role="sales_rep")
    person = PersonFactory(owner=rep)
    task = task_create(
        title="Call back",
        due_at=timezone.now() + dt.timedelta(hours=1),
        person_id=person.pk,
        activity_kind="call",
        by_user=rep,
    )
    client.force_login(rep)
    # when "Complete and log" is posted from the page (HTMX)
    response = client.post(
        f"/tasks/{task.pk}/done/",
        {"log": "1", "activity_kind": "call", "outcome": "left_voicemail", "notes": "Try Friday"},
        **HX,
    )
    # then the row comes back done, the counts come out of band, and the call is logged
    body = _text(response)
    assert response.status_code == 200
    assert f'id="task-{task.pk}" class="task-row task-done"' in body and "activity logged" in body
    assert 'id="task-counts" aria-label="Tasks by state" hx-swap-oob="true"' in body
    assert 'data-state="done_today">Done today <span class="chip-count">1</span>' in body
    activity = Activity.objects.get()
    assert (activity.outcome, activity.notes, Task.objects.get().activity_id) == (
        "left_voicemail",
        "Try Friday",
        activity.pk,
    )


def test_a_refused_completion_shows_the_reason_in_the_row(client) -> None:  # type: ignore[no-untyped-def]
    # given a rep's task
    rep = UserFactory(role="sales_rep")
    task = task_create(
        title="Call", due_at=timezone.now() + dt.timedelta(hours=1), person_id=PersonFactory(owner=rep).pk, by_user=rep
    )
    client.force_login(rep)
    # when completed logging an outcome that does not exist
    response = client.post(
        f"/tasks/{task.pk}/done/", {"log": "1", "activity_kind": "call", "outcome": "maybe"}, **HX
    )
    # then the row is still open, with the reason, and nothing was logged
    body = _text(response)
    assert response.status_code == 422 and "unknown outcome &#x27;maybe&#x27;" in body
    assert Task.objects.get().done_at is None and not Activity.objects.exists()


def test_the_reps_home_opens_with_the_days_tasks(client, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    # given a rep with an overdue task, one due later today (their zone: UTC) and one next week
    rep = UserFactory(role="sales_rep")
    now = timezone.now()
    TaskFactory(owner=rep, title="Overdue call", due_at=now - dt.timedelta(hours=1))
    end_of_day = dt.datetime.combine(
        now.date() + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC
    ) - dt.timedelta(seconds=1)
    if end_of_day > now:
        TaskFactory(owner=rep, title="Today's call", due_at=end_of_day)
    TaskFactory(owner=rep, title="Next week", due_at=now + dt.timedelta(days=7))
    client.force_login(rep)
    # when the rep signs in and lands home
    response = client.get("/home/rep/")
    # then the day's tasks come first, the later one only in the count
    body = _text(response)
    assert "<h1>My day</h1>" in body
    tasks = body.split('data-testid="home-tasks"')[1].split("</section>")[0]
    assert "Overdue call" in tasks and "Next week" not in tasks
    assert ("Today&#x27;s call" in tasks) == (end_of_day > now)
    assert body.index('id="home-tasks"') < body.index("My open deals")


def test_the_person_page_loads_a_tasks_card_that_adds_a_task(client) -> None:  # type: ignore[no-untyped-def]
    # given a rep in Berlin and a person with an open task
    rep = UserFactory(role="sales_rep", time_zone="Europe/Berlin")
    person = PersonFactory(owner=rep)
    TaskFactory(owner=rep, person=person, title="Existing", due_at=timezone.now() + dt.timedelta(days=1))
    client.force_login(rep)
    # when the person page is opened, the card loads, and a task is added in it for next Tuesday 10:00
    page = client.get(f"/people/{person.pk}/").content.decode()
    card = client.get(f"/tasks/person/{person.pk}/", **HX).content.decode()
    due = (
        (timezone.now() + dt.timedelta(days=7))
        .astimezone(ZoneInfo("Europe/Berlin"))
        .replace(hour=10, minute=0, second=0, microsecond=0)
    )
    added = client.post(
        f"/tasks/person/{person.pk}/",
        {
            "title": "Call back Tuesday",
            "due_at": due.strftime("%Y-%m-%dT%H:%M"),
            "activity_kind": "call",
            "priority": "normal",
        },
        **HX,
    )
    # then the card lists both and the new one is due at 10:00 Berlin time
    assert f'hx-get="/tasks/person/{person.pk}/"' in page
    assert "Existing" in card and 'id="task-panel"' in card
    assert added.status_code == 200 and "Task added: Call back Tuesday." in added.content.decode()
    task = Task.objects.get(title="Call back Tuesday")
    assert (task.person_id, task.owner_id, task.activity_kind_id, task.due_at) == (
        person.pk,
        rep.pk,
        "call",
        due,
    )


def test_the_person_card_shows_a_refusal_and_keeps_what_was_typed(client) -> None:  # type: ignore[no-untyped-def]
    # given a rep and a person
    rep = UserFactory(role="sales_rep")
    person = PersonFactory(owner=rep)
    client.force_login(rep)
    # when a task without a due time is added
    response = client.post(f"/tasks/person/{person.pk}/", {"title": "Call back", "due_at": ""}, **HX)
    # then 422 with the reason, the title kept, nothing stored
    body = response.content.decode()
    assert (
        response.status_code == 422 and "due must be a date and time" in body and 'value="Call back"' in body
    )
    assert not Task.objects.exists()


def test_accepting_an_mql_offers_the_first_touch_as_a_task_due_at_the_deadline(client) -> None:  # type: ignore[no-untyped-def]
    # given a rep's MQL handed over a minute ago (the SLA deadline lies ahead in business hours)
    rep = UserFactory(role="sales_rep", team=TeamFactory(name="Inbox team", time_zone="UTC"))
    person = PersonFactory(owner=rep, first_name="Lee", last_name="Lead")
    person_change_stage(person=person, to_stage="mql", at=timezone.now() - dt.timedelta(minutes=1))
    deadline = person_first_touch(person_id=person.pk)
    assert deadline is not None and deadline.state == "pending"
    client.force_login(rep)
    # when the rep accepts it from the inbox, then clicks the offered button (its form, as posted)
    accepted = client.post(f"/inbox/{person.pk}/accept/", **HX).content.decode()
    fields = dict(
        re.findall(
            r'<input type="hidden" name="(\w+)" value="([^"]*)">', accepted.split("first-touch-task")[1]
        )
    )
    added = client.post("/tasks/new/", fields, **HX)
    # then the button named the deadline, and the task is the rep's first touch, due then, about the lead
    assert f"Add task: first touch by {deadline.deadline:%a %-d %b, %H:%M}" in accepted
    assert added.status_code == 201 and "Task added" in added.content.decode()
    task = Task.objects.get()
    assert (task.title, task.owner_id, task.person_id, task.source, task.priority, task.activity_kind_id) == (
        "First touch: Lee Lead",
        rep.pk,
        person.pk,
        "sla.first_touch",
        "high",
        "call",
    )
    assert task.due_at == deadline.deadline
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "sal"


def test_the_edit_page_changes_the_task_and_refuses_a_bad_due_time(client) -> None:  # type: ignore[no-untyped-def]
    # given a rep's task
    rep = UserFactory(role="sales_rep")
    task = task_create(title="Call", due_at=timezone.now() + dt.timedelta(days=1), by_user=rep)
    client.force_login(rep)
    # when a bad due time is saved, then a good one with a new title
    bad = client.post(f"/tasks/{task.pk}/edit/", {"title": "Call", "due_at": "someday", "priority": "normal"})
    good = client.post(
        f"/tasks/{task.pk}/edit/",
        {"title": "Call Globex", "due_at": "2027-01-04T09:30", "priority": "high", "notes": "x"},
    )
    # then the first is refused with its reason, the second saved
    assert bad.status_code == 422 and "due must be a date and time" in bad.content.decode()
    assert good.status_code == 302
    stored = Task.objects.get()
    assert (stored.title, stored.priority, stored.due_at) == (
        "Call Globex",
        "high",
        dt.datetime(2027, 1, 4, 9, 30, tzinfo=dt.UTC),
    )
    assert Event.objects.filter(kind="task.updated").count() == 1


def test_another_reps_task_pages_are_404(client) -> None:  # type: ignore[no-untyped-def]
    # given someone else's task
    task = TaskFactory(owner=UserFactory(role="sales_rep"))
    client.force_login(UserFactory(role="sales_rep"))
    # when / then
    assert client.get(f"/tasks/{task.pk}/edit/").status_code == 404
    assert client.post(f"/tasks/{task.pk}/done/").status_code == 404
    assert Task.objects.get().done_at is None


def test_the_first_touch_offer_says_now_once_breached_and_is_absent_once_touched(client) -> None:  # type: ignore[no-untyped-def]
    # given a rep with two MQLs handed over ten days ago, one of them called since
    rep = UserFactory(role="sales_rep")
    late, called = PersonFactory(owner=rep), PersonFactory(owner=rep)
    for person in (late, called):
        person_change_stage(person=person, to_stage="mql", at=timezone.now() - dt.timedelta(days=10))
    Activity.objects.create(
        person=called, kind_id="call", occurred_at=timezone.now() - dt.timedelta(days=9), user=rep
    )
    client.force_login(rep)
    # when both are accepted
    late_row = _text(client.post(f"/inbox/{late.pk}/accept/", **HX))
    called_row = _text(client.post(f"/inbox/{called.pk}/accept/", **HX))
    # then the untouched one offers a first touch now, naming the missed deadline; the called one offers nothing
    assert "Add task: first touch now (SLA was due" in late_row
    assert "first-touch-task" not in called_row and "is now a sales-accepted lead" in called_row
