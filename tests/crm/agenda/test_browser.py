"""In chromium: a rep opens Tandem, sees the day's tasks, completes one logging a call, and adds a follow-up."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from tandem.crm.models import Activity, Task
from tandem.crm.services import person_change_stage
from tandem.users.models import Role
from tandem.users.roles import roles_sync
from tandem.users.services import user_create
from tests.browser_helpers import PASSWORD, browser_login
from tests.crm.agenda.factories import TaskFactory
from tests.crm.factories import PersonFactory

SCREENSHOTS = Path(__file__).resolve().parents[3] / "var" / "screenshots"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_rep_sees_the_days_tasks_completes_one_logging_a_call_and_adds_a_follow_up(live_server, page):  # type: ignore[no-untyped-def]
    # given a rep in Berlin with an overdue call about Ada, an e-mail due later, and a task for next week
    roles_sync()
    rep = user_create(
        username="rita", password=PASSWORD, role=Role.SALES_REP, first_name="Rita", last_name="Rep"
    )
    rep.time_zone = "Europe/Berlin"
    rep.save(update_fields=["time_zone"])
    ada = PersonFactory(owner=rep, first_name="Ada", last_name="Lovelace", job_title="CTO")
    now = timezone.now()
    call = TaskFactory(
        owner=rep,
        title="Call Ada back about pricing",
        person=ada,
        activity_kind_id="call",
        priority="high",
        due_at=now - dt.timedelta(hours=2),
    )
    TaskFactory(
        owner=rep,
        title="Send Globex the proposal",
        activity_kind_id="email",
        due_at=now + dt.timedelta(minutes=30),
    )
    TaskFactory(owner=rep, title="Quarterly review prep", due_at=now + dt.timedelta(days=6))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    # when the rep signs in
    browser_login(page, live_server.url, "rita")
    home = page.locator("[data-testid=home-tasks]")
    page.screenshot(path=str(SCREENSHOTS / "tasks_home.png"), full_page=True)
    # then home opens with the day's tasks: the overdue call first, next week's task not among them
    assert page.inner_text("h1") == "My day"
    assert (
        "Call Ada back about pricing" in home.inner_text()
        and "Quarterly review prep" not in home.inner_text()
    )

    # when the rep opens all their tasks
    home.locator("text=All my tasks").click()
    page.wait_for_url(f"{live_server.url}/tasks/")
    overdue = page.locator("[data-testid=tasks-overdue]")
    # then each section lists its tasks
    assert "Call Ada back about pricing" in overdue.inner_text()
    assert "Quarterly review prep" in page.locator("[data-testid=tasks-upcoming]").inner_text()

    # when they complete the call, logging it as connected with a note
    row = page.locator(f"#task-{call.pk}")
    row.locator("summary", has_text="Done + log").click()
    row.locator("select[name=activity_kind]").select_option("call")
    row.locator("select[name=outcome]").select_option("connected")
    row.locator("textarea[name=notes]").fill("Booked a demo for Thursday")
    page.screenshot(path=str(SCREENSHOTS / "tasks_log_call.png"), full_page=True)
    row.locator("button", has_text="Complete and log").click()
    page.wait_for_selector(f"#task-{call.pk}.task-done")
    page.screenshot(path=str(SCREENSHOTS / "tasks_done.png"), full_page=True)
    # then the row shows it done with the call logged, the counts follow, and the call is on Ada's record
    assert "activity logged" in page.locator(f"#task-{call.pk}").inner_text()
    assert page.locator("#task-counts [data-state=done_today] .chip-count").inner_text() == "1"
    activity = Activity.objects.get()
    assert (activity.person_id, activity.kind_id, activity.outcome, activity.notes, activity.user_id) == (
        ada.pk,
        "call",
        "connected",
        "Booked a demo for Thursday",
        rep.pk,
    )
    assert Task.objects.get(pk=call.pk).activity_id == activity.pk

    # when they open Ada's page and add a follow-up in the tasks card
    page.locator(f"#task-{call.pk} a", has_text="Ada Lovelace").click()
    panel = page.locator("[data-testid=task-panel]")
    panel.locator("input[name=title]").fill("Send the demo invite")
    panel.locator("button", has_text="Add task").click()
    page.wait_for_selector("text=Task added: Send the demo invite.")
    page.screenshot(path=str(SCREENSHOTS / "tasks_person_card.png"), full_page=True)
    # then it is listed on the card and is Rita's call, due tomorrow 09:00 her time
    assert "Send the demo invite" in page.locator("[data-testid=task-panel]").inner_text()
    follow_up = Task.objects.get(title="Send the demo invite")
    local = follow_up.due_at.astimezone(dt.timezone(dt.timedelta(hours=1)))
    assert (follow_up.owner_id, follow_up.person_id, follow_up.activity_kind_id, local.hour) == (
        rep.pk,
        ada.pk,
        "call",
        9,
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_accepting_an_mql_in_the_inbox_adds_the_first_touch_task_in_one_click(live_server, page):  # type: ignore[no-untyped-def]
    # given a rep with an MQL handed over a minute ago
    roles_sync()
    rep = user_create(
        username="rex", password=PASSWORD, role=Role.SALES_REP, first_name="Rex", last_name="Rep"
    )
    lead = PersonFactory(owner=rep, first_name="Lee", last_name="Lead")
    person_change_stage(person=lead, to_stage="mql", at=timezone.now() - dt.timedelta(minutes=1))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser_login(page, live_server.url, "rex")
    # when they accept it in the inbox and click the offered task
    page.goto(f"{live_server.url}/inbox/")
    page.locator(f"#mql-{lead.pk} button", has_text="Accept").click()
    offer = page.locator("[data-testid=first-touch-task]")
    offer.wait_for()
    label = offer.inner_text()
    offer.click()
    page.wait_for_selector("[data-testid=task-added]")
    page.screenshot(path=str(SCREENSHOTS / "tasks_inbox_first_touch.png"), full_page=True)
    # then the task is the lead's first touch, due at the SLA deadline the button named
    task = Task.objects.get()
    assert label.startswith("Add task: first touch by ")
    assert (task.person_id, task.owner_id, task.source) == (lead.pk, rep.pk, "sla.first_touch")
    assert label.endswith(task.due_at.strftime("%a %-d %b, %H:%M"))
