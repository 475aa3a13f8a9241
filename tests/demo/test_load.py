"""`tandem demo` and `tandem serve`: loading the demo company end to end, refusing to overwrite, serving."""

from __future__ import annotations

import datetime as dt
import io
import os
import sys

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.test import Client

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.capture.models import UnknownUtm
from tandem.core.errors import NotAllowed
from tandem.core.management.commands.serve import default_workers
from tandem.core.models import Event
from tandem.crm.models import Activity, Deal, Person, StageChange
from tandem.demo.company import generate_company
from tandem.demo.services import demo_load
from tandem.feedback.models import Question
from tandem.users.models import Role, Team, User
from tests.crm.factories import PersonFactory

END = "2026-06-30"
LOGINS = {
    "admin": "admin",
    "marketing": "marketing",
    "rep": "sales_rep",
    "manager": "sales_manager",
    "viewer": "viewer",
}


@pytest.fixture(autouse=True)
def _fast_passwords(settings):  # type: ignore[no-untyped-def]
    # Fourteen demo users with PBKDF2 take seconds; the tests check logins, not hashing strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _demo(*args: str) -> str:
    out = io.StringIO()
    call_command("demo", "--people", "300", "--end", END, "--no-serve", *args, stdout=out)
    return out.getvalue()


def _snapshot() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Person, Deal, Touchpoint, Campaign, Question, Activity, StageChange, User, Team)
    }


def test_demo_loads_a_company_with_one_login_per_role(db):
    # given an empty database
    # when
    output = _demo()
    # then every printed login works and has its role
    assert "Logins (password for all: tandem-demo)" in output
    for username, role in LOGINS.items():
        assert f"  {username:<11} {role:<14}" in output
        assert Client().login(username=username, password="tandem-demo")
        assert User.objects.get(username=username).role == role
    assert set(Role.values) == set(User.objects.values_list("role", flat=True))
    assert Person.objects.count() == 301  # 300 generated, one new visitor from the sample form submissions
    # 98 campaigns from the generator and six promotions, events and a launch planned on the sales calendar; the
    # sample form submission with an unknown UTM tag made no campaign: its tag waits for review
    assert Campaign.objects.count() == 104
    assert Campaign.objects.filter(status="draft").count() == 0
    assert UnknownUtm.objects.values_list("value", "utm_source", "count").get() == ("q4-ops-leaders", "linkedin", 1)


def test_demo_people_walk_the_whole_funnel_with_owners_and_activities(db):
    # given / when
    _demo()
    # then the funnel report has lead → MQL → SAL → SQL → opportunity → customer paths to read
    reached = set(StageChange.objects.values_list("to_stage", flat=True))
    assert reached == {"lead", "mql", "sal", "sql", "opportunity", "customer", "recycled", "disqualified"}
    customer = Person.objects.filter(lifecycle_stage="customer").order_by("pk").first()
    assert customer is not None
    path = list(
        StageChange.objects.filter(person=customer)
        .order_by("changed_at", "id")
        .values_list("to_stage", flat=True)
    )
    assert path[0] == "lead" and path[-2:] == ["opportunity", "customer"]
    # owners: everyone beyond lead who went through sales, and their deals and questions
    owned = Person.objects.filter(owner__isnull=False)
    assert owned.count() > 0
    assert not Person.objects.filter(
        lifecycle_stage__in=["sal", "sql", "opportunity", "customer"], owner__isnull=True
    ).exists()
    assert not Deal.objects.filter(owner__isnull=True).exists()
    assert not Question.objects.filter(heard_by__isnull=True).exists()
    assert set(Activity.objects.values_list("kind", flat=True)) == {"call", "email", "meeting"}
    assert not Activity.objects.exclude(user_id__in=owned.values("owner_id")).exists()
    # a rep's moves name the rep; the MQL rule names none
    sal = StageChange.objects.filter(to_stage="sal").select_related("by_user").first()
    assert sal is not None and sal.by_user is not None and sal.by_user.role == "sales_rep"
    assert sal.rule == "demo"
    assert not StageChange.objects.filter(to_stage="mql", by_user__isnull=False).exists()


def test_demo_teams_live_in_different_time_zones(db):
    # given / when
    _demo()
    # then
    teams = {
        t.name: (t.kind, t.time_zone, t.manager.username if t.manager else "") for t in Team.objects.all()
    }
    assert teams == {
        "Sales Americas": ("sales", "America/New_York", "manager"),
        "Sales EMEA": ("sales", "Europe/London", "claire"),
        "Marketing": ("marketing", "Europe/London", "marketing"),
    }
    assert User.objects.get(username="rep").time_zone == "America/New_York"
    assert User.objects.filter(role="sales_rep").count() == 9


def test_demo_records_what_it_did_in_the_event_log(db):
    # given / when
    _demo()
    # then
    loaded = Event.objects.get(kind="demo.loaded")
    assert loaded.data["counts"]["people"] == 300
    assert loaded.data["end"] == END
    assert Event.objects.filter(kind="demo.activities_logged").get().data["count"] == Activity.objects.count()
    assert Event.objects.filter(kind="demo.people_assigned").count() == 1


def test_second_demo_run_loads_nothing_and_prints_the_logins_again(db):
    # given
    _demo()
    before = _snapshot()
    # when
    output = _demo()
    # then
    assert "The database already holds 301 people: nothing loaded" in output
    assert "  rep         sales_rep      Sales Americas" in output
    assert _snapshot() == before


def test_demo_reset_replaces_the_data_and_keeps_the_role_groups(db):
    # given
    PersonFactory(email="someone@else.example")
    # when
    output = _demo("--reset", "--seed", "3")
    # then
    assert "database emptied (--reset)" in output
    assert not Person.objects.filter(email="someone@else.example").exists()
    assert Person.objects.count() == 301  # 300 generated, one new visitor from the sample form submissions
    assert set(Group.objects.values_list("name", flat=True)) == {r.label for r in Role}
    assert Group.objects.get(name="Sales rep").permissions.exists()


def test_demo_load_refuses_a_database_with_people_and_changes_nothing(db):
    # given
    PersonFactory()
    before = _snapshot()
    company = generate_company(people=50, seed=7, end=dt.date(2026, 6, 30))
    # when
    with pytest.raises(NotAllowed, match="already holds 1 people") as raised:
        demo_load(company=company)
    # then
    assert (raised.value.field, raised.value.value) == ("people", 1)
    assert _snapshot() == before


def test_demo_refuses_a_bad_end_date_naming_it(db):
    # given / when / then
    with pytest.raises(CommandError, match=r"--end must be a date like 2026-06-30, got '30/06/2026'"):
        call_command("demo", "--end", "30/06/2026", "--no-serve", stdout=io.StringIO())
    assert Person.objects.count() == 0


def test_demo_serves_after_loading_unless_told_not_to(db, monkeypatch, settings, tmp_path):
    # given
    settings.VAR_DIR = tmp_path
    log = tmp_path / "demo-server.log"
    calls = []
    monkeypatch.setattr(
        "tandem.demo.management.commands.demo.call_command",
        lambda name, *args, **kwargs: calls.append((name, kwargs)),
    )
    # when (migrate goes through the patched call_command too: the test database is migrated already)
    call_command("demo", "--people", "20", "--end", END, "--port", "8123", stdout=io.StringIO())
    # then
    assert calls == [
        ("migrate", {"interactive": False, "verbosity": 0}),
        ("serve", {"host": "127.0.0.1", "port": 8123, "workers": None, "dev": False, "log_file": str(log)}),
    ]


def test_demo_prints_a_table_of_logins_and_where_to_go_next(db, monkeypatch, settings, tmp_path, capsys):
    # given a demo that would serve (serving itself is replaced: the test checks what the terminal says)
    settings.VAR_DIR = tmp_path
    monkeypatch.setattr("tandem.core.management.commands.serve.os.execv", lambda path, argv: None)
    monkeypatch.setattr("tandem.core.management.commands.serve._log_to", lambda fd: os.close(fd))
    # the test database is migrated already (and SQLite cannot migrate inside the test's transaction)
    monkeypatch.setattr(
        "tandem.demo.management.commands.demo.call_command",
        lambda name, *args, **kwargs: None if name == "migrate" else call_command(name, *args, **kwargs),
    )
    out = io.StringIO()
    # when
    call_command("demo", "--people", "20", "--end", END, "--port", "8124", stdout=out)
    # then the logins are a table with headers, followed by the address, the second terminal and the log's path
    lines = out.getvalue().splitlines()
    header = lines.index("  Username    Role           Team")
    assert lines[header - 2 : header] == ["Logins (password for all: tandem-demo)", ""]
    assert lines[header + 1].startswith("  ----------- -------------- ----")
    assert lines[header + 2].startswith("  admin       admin          ")
    assert lines[-1] == (
        "Open http://127.0.0.1:8124 and sign in; run `make test` in another terminal while this one serves."
    )
    assert capsys.readouterr().out.splitlines() == [
        f"Tandem on http://127.0.0.1:8124/ with {default_workers()} gunicorn workers  (Ctrl+C stops)",
        f"Server log: {tmp_path / 'demo-server.log'}",
    ]


def test_serve_execs_gunicorn_with_sync_workers(monkeypatch):
    # given
    seen = []
    monkeypatch.setattr(
        "tandem.core.management.commands.serve.os.execv", lambda path, argv: seen.append(argv)
    )
    # when
    call_command("serve", "--workers", "3", stdout=io.StringIO())
    # then
    assert seen == [
        [
            sys.executable, "-m", "gunicorn", "tandem.wsgi:application", "--bind", "127.0.0.1:8000",
            "--workers", "3", "--worker-class", "sync", "--timeout", "60", "--access-logfile", "-",
            "--config", "python:tandem.core.gunicorn_conf",
        ]
    ]  # fmt: skip
    assert os.environ["TANDEM_SERVE_WORKER"] == "1"


def test_serve_dev_runs_djangos_reloading_server_and_the_worker(monkeypatch):
    # given
    calls = []
    monkeypatch.setattr(
        "tandem.core.management.commands.serve.call_command", lambda *args, **kwargs: calls.append(args)
    )
    monkeypatch.setattr(
        "tandem.core.management.commands.serve._start_dev_worker", lambda: calls.append(("worker",))
    )
    # when
    call_command("serve", "--dev", "--port", "8001", stdout=io.StringIO())
    call_command("serve", "--dev", "--port", "8002", "--no-worker", stdout=io.StringIO())
    # then the second run starts no worker
    assert calls == [("worker",), ("runserver", "127.0.0.1:8001"), ("runserver", "127.0.0.1:8002")]


def test_serve_refuses_a_port_out_of_range():
    # given / when / then
    with pytest.raises(CommandError, match="--port must be between 1 and 65535, got 70000"):
        call_command("serve", "--port", "70000", stdout=io.StringIO())


def test_demo_queues_the_predictive_score_training_for_the_background_worker(
    db, settings, django_capture_on_commit_callbacks
):
    # given an empty database and a task queue that runs tasks where they are queued
    from huey.contrib.djhuey import HUEY

    from tandem.core.models import Job
    from tandem.scoring.models import ScoringModel

    HUEY.immediate = True
    try:
        # when the demo loads (the training job is queued once its row is committed)
        with django_capture_on_commit_callbacks(execute=True):
            output = _demo()
    finally:
        HUEY.immediate = False
    # then training was queued and ran: a model was stored (active, or refused with its reason), and the user
    # was told why scores may not show at once
    assert "trained in the background" in output
    assert ScoringModel.objects.count() == 1
    assert list(Job.objects.values_list("kind", "status")) == [("scoring.train", "succeeded")]
