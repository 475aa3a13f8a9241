"""Writes of the core app: loading the demo company into an empty database, or emptying one for it."""

from __future__ import annotations

import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from tandem.capture.selectors import person_pks_by_email
from tandem.capture.services import bundle_import
from tandem.core.bulk import chunked, tables_analyze
from tandem.core.errors import NotAllowed
from tandem.core.events import event_record
from tandem.crm.consent.services import consents_record_bulk
from tandem.crm.models import Activity, ConsentRecord, ConsentSource, Deal, Person
from tandem.crm.services import (
    Transition,
    activities_log_bulk,
    crm_defaults_ensure,
    deals_assign_owner_bulk,
    people_change_stage_bulk,
    people_phones_set_bulk,
    people_update_bulk,
)
from tandem.demo.company import (
    BUNDLE_FILES,
    DEMO_PASSWORD,
    OTHER_USERS,
    PRINTED_LOGINS,
    TEAMS,
    DemoCompany,
    StageMove,
    write_bundle,
)
from tandem.demo.lifecycle import demo_calendars_set
from tandem.feedback.services import questions_heard_by_set_bulk
from tandem.users.models import Team, User
from tandem.users.roles import roles_sync
from tandem.users.services import user_create

DEMO_RULE = "demo"
# Moves a rep makes (accepting, qualifying, sending back); reaching MQL is the marketing rule's doing.
REP_STAGES = frozenset({"sal", "sql", "recycled", "disqualified"})
Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    team: str
    password: str


@dataclass
class DemoLoadReport:
    """What the demo load wrote, and how long each step took."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    logins: list[DemoLogin] = field(default_factory=list)


@dataclass(frozen=True)
class DemoDatabaseState:
    people: int
    logins: list[DemoLogin]


def _quiet(line: str) -> None:
    return None


def demo_logins() -> list[DemoLogin]:
    """The logins `tandem demo` prints: one user per role, all with the demo password."""
    return [DemoLogin(username, role, team, DEMO_PASSWORD) for username, role, _, _, team in PRINTED_LOGINS]


def demo_database_state() -> DemoDatabaseState:
    """How many people the database holds and which of the demo's printed logins exist in it."""
    present = set(
        User.objects.filter(username__in=[u for u, *_ in PRINTED_LOGINS]).values_list("username", flat=True)
    )
    return DemoDatabaseState(
        people=Person.objects.count(), logins=[login for login in demo_logins() if login.username in present]
    )


def database_reset(*, reason: str) -> None:
    """Empty every table (the schema stays) and recreate the role groups, which live in the data."""
    if connection.vendor == "postgresql":
        # Inside a transaction that already wrote rows, deferred foreign-key checks would block TRUNCATE.
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("flush", interactive=False, verbosity=0)
    roles_sync()
    crm_defaults_ensure()
    event_record(kind="database.flushed", subject_type="core.database", reason=reason)


@transaction.atomic
def demo_users_create() -> dict[str, User]:
    """The demo's teams (two sales teams in different time zones, one marketing team) and their users."""
    teams: dict[str, Team] = {}
    for name, kind, time_zone, territory, _ in TEAMS:
        team = Team.objects.create(name=name, kind=kind, time_zone=time_zone)
        event_record(
            kind="team.created",
            subject=team,
            data={"kind": kind, "time_zone": time_zone, "territory": territory},
        )
        teams[name] = team
    users: dict[str, User] = {}
    for username, role, first, last, team_name in (*PRINTED_LOGINS, *OTHER_USERS):
        users[username] = user_create(
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            email=f"{username}@demo.tandem.example",
            first_name=first,
            last_name=last,
            team=teams.get(team_name),
        )
    for name, _, time_zone, _, manager in TEAMS:
        team = teams[name]
        # People work in their team's time zone; user_create does not take one.
        User.objects.filter(team=team).update(time_zone=time_zone)
        Team.objects.filter(pk=team.pk).update(manager=users[manager])
        event_record(
            kind="team.staffed",
            subject=team,
            data={
                "manager": manager,
                "members": sorted(u.username for u in users.values() if u.team_id == team.pk),
            },
        )
    return users


def _transitions(
    *, moves: Iterable[StageMove], person_pks: dict[str, int], owner_pks: dict[str, int]
) -> list[Transition]:
    return [
        Transition(
            person_id=person_pks[m.email],
            to_stage=m.to_stage,
            at=m.at,
            by_user_id=owner_pks.get(m.email) if m.to_stage in REP_STAGES else None,
            rule=DEMO_RULE,
            reason=m.reason,
        )
        for m in moves
    ]


def _people_fields_set(
    *, company: DemoCompany, person_pks: dict[str, int], users: dict[str, User]
) -> dict[str, dict[str, int]]:
    """Owners, lead statuses, consent and phones in a few grouped updates; returns counts for the event."""
    now = timezone.now()
    # One UPDATE per (owner, status) group: every rewrite of a person row also rewrites its indexes.
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for person in company.people:
        if person.owner or person.lead_status != "new":
            groups[(person.owner, person.lead_status)].append(person_pks[person.email])
    for (owner, status), pks in sorted(groups.items()):
        user = users[owner] if owner else None
        for chunk in chunked(sorted(pks)):
            people_update_bulk(person_ids=chunk, at=now, owner=user, lead_status=status)
            if user is not None:
                deals_assign_owner_bulk(person_ids=chunk, owner=user)
                questions_heard_by_set_bulk(person_ids=chunk, heard_by=user)
    with_phone = {person_pks[p.email]: p.phone for p in company.people if p.phone}
    people_phones_set_bulk(phones=with_phone)
    # E-mail consent as records given when the person arrived (the consent service sets the flags).
    consents_record_bulk(
        records=[
            ConsentRecord(
                person_id=person_pks[p.email], channel="email", granted=True, at=p.created_at,
                source=ConsentSource.DEMO, note="demo company",
            )
            for p in company.people
            if p.consent_email
        ]
    )
    return {
        "owners": dict(sorted(Counter(p.owner for p in company.people if p.owner).items())),
        "lead_statuses": dict(sorted(Counter(p.lead_status for p in company.people).items())),
        "consent_email": {"true": sum(p.consent_email for p in company.people)},
        "phone": {"set": len(with_phone)},
    }


def demo_activities_log(*, company: DemoCompany, person_pks: dict[str, int], users: dict[str, User]) -> int:
    """Bulk-create the reps' calls, emails and meetings of the demo company, with one summary event."""
    deal_pks: dict[str, int] = {}
    deal_ids = sorted({a.deal_id for a in company.activities if a.deal_id})
    for chunk in chunked(deal_ids):
        for external_id, pk in Deal.objects.filter(external_id__in=chunk).values_list("external_id", "pk"):
            deal_pks[external_id or ""] = pk
    # An activity is with the person's company too, so the account page lists it.
    account_pks: dict[str, int | None] = {}
    emails = sorted({a.email for a in company.activities})
    for chunk in chunked(emails):
        for email, account_id in Person.objects.filter(email__in=chunk).values_list("email", "account_id"):
            account_pks[email] = account_id
    rows = [
        Activity(
            person_id=person_pks[a.email],
            deal_id=deal_pks.get(a.deal_id) if a.deal_id else None,
            user_id=users[a.user].pk,
            kind_id=a.kind,
            outcome=a.outcome,
            account_id=account_pks.get(a.email),
            occurred_at=a.occurred_at,
            duration_minutes=a.duration_minutes,
            notes=a.notes,
        )
        for a in company.activities
    ]
    activities_log_bulk(activities=rows)
    per_user: dict[str, int] = defaultdict(int)
    for a in company.activities:
        per_user[a.user] += 1
    event_record(
        kind="demo.activities_logged",
        subject_type="crm.activity",
        rule=DEMO_RULE,
        data={"count": len(rows), "per_user": dict(sorted(per_user.items()))},
    )
    return len(rows)


@transaction.atomic
def demo_forms_create(*, company: DemoCompany, by_user: Any) -> int:
    """Two web forms, and three submissions through the real capture path: a returning lead, a visitor from
    an ad no campaign is tagged for (its tag waits on the unknown UTM list for review), and a malformed one (a
    journal refusal)."""
    import json

    from tandem.campaigns.models import Campaign
    from tandem.capture.intake.processing import submissions_process
    from tandem.capture.intake.services import Arrival, form_create, form_submission_receive

    campaign = Campaign.objects.filter(channel="webinar").order_by("-started_on", "id").first()
    demo = form_create(
        name="Request a demo",
        touchpoint_kind="demo_request",
        campaign=campaign,
        submit_label="Request my demo",
        thank_you_message="Thank you! A specialist will call you within one business day.",
        fields=[
            {"name": "email", "label": "Work email", "type": "email", "required": True},
            {"name": "first_name", "label": "First name", "type": "text", "required": True},
            {"name": "last_name", "label": "Last name", "type": "text"},
            {"name": "company", "label": "Company", "type": "text", "required": True},
            {"name": "job_title", "label": "Job title", "type": "text"},
            {"name": "team_size", "label": "Team size", "type": "select", "choices": ["1-10", "11-50", "51-200", "201+"]},
            {"name": "consent_email", "label": "Send me product news by email", "type": "consent_email"},
        ],
        by_user=by_user,
    )
    form_create(
        name="Newsletter signup",
        fields=[
            {"name": "email", "label": "Email", "type": "email", "required": True},
            {"name": "consent_email", "label": "Yes, send me the monthly newsletter", "type": "consent_email", "required": True},
        ],
        by_user=by_user,
    )
    returning = company.people[0]
    samples = [
        {"email": returning.email, "first_name": returning.first_name, "company": returning.company, "team_size": "11-50"},
        {"email": "lena.hart@brightpath.example", "first_name": "Lena", "last_name": "Hart", "company": "Brightpath",
         "job_title": "Head of Operations", "consent_email": "1", "utm_source": "linkedin", "utm_medium": "cpc",
         "utm_campaign": "q4-ops-leaders"},
        {"email": "not-an-address", "first_name": "Typo", "company": "Nowhere"},
    ]
    for body in samples:
        receipt = form_submission_receive(
            arrival=Arrival(source="form_json", key=demo.public_key, body=json.dumps(body).encode(),
                            body_size=len(json.dumps(body)), content_type="application/json",
                            remote_addr="203.0.113.7", user_agent="demo"),
            expect="json",
        )
        if receipt.submission is not None and receipt.status_code == 202:
            submissions_process(ids=[receipt.submission.pk])
    return 2


def demo_load(
    *, company: DemoCompany, progress: Progress | None = None, keep_bundle: Path | None = None
) -> DemoLoadReport:
    """Load the demo company into an empty database: users, the bundle, funnel stages, owners, activities."""
    say = progress or _quiet
    existing = Person.objects.count()
    if existing:
        raise NotAllowed(
            f"the database already holds {existing} people; the demo loads only into an empty one "
            "(tandem demo --reset empties it)",
            field="people",
            value=existing,
        )
    report = DemoLoadReport(logins=demo_logins())
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        report.seconds[step] = round(now - clock, 2)
        clock = now
        say(f"{step}: {report.seconds[step]:.1f} s")

    def import_progress(label: str, done: int, total: int) -> None:
        if done == total and total:
            say(f"  {label}: {total}")

    users = demo_users_create()
    lap("users and teams")
    with tempfile.TemporaryDirectory(prefix="tandem-demo-") as folder:
        # Three steps, because the importer derives only lead / opportunity / customer and stages never move
        # back: people arrive as leads, then reach MQL, SAL and SQL at their own times, then deals arrive.
        leads = Path(folder) / "leads"
        write_bundle(company, leads, files=[f for f in BUNDLE_FILES if f != "deals.csv"])
        lap("bundle written")
        imported = bundle_import(directory=leads, by_user=users["admin"], progress=import_progress)
        lap("people, campaigns, touchpoints, questions imported")
        person_pks = person_pks_by_email(emails=[p.email for p in company.people])
        owner_pks = {p.email: users[p.owner].pk for p in company.people if p.owner}
        stage_changes = people_change_stage_bulk(
            transitions=_transitions(moves=company.stage_moves, person_pks=person_pks, owner_pks=owner_pks)
        )
        lap("MQL, SAL and SQL stages")
        deals = Path(folder) / "deals"
        # people.csv is required; an empty one makes the deals refer to the people already stored.
        write_bundle(replace(company, people=[]), deals, files=["people.csv", "deals.csv"])
        with_deals = bundle_import(directory=deals, by_user=users["admin"], progress=import_progress)
        lap("deals imported")
    from tandem.demo.pipeline import pipeline_demo_spread

    deal_moves = pipeline_demo_spread(company=company)
    lap("deals walked through the pipeline stages")
    stage_changes += people_change_stage_bulk(
        transitions=_transitions(moves=company.late_stage_moves, person_pks=person_pks, owner_pks=owner_pks)
    )
    fields_set = _people_fields_set(company=company, person_pks=person_pks, users=users)
    event_record(kind="demo.people_assigned", subject_type="crm.person", rule=DEMO_RULE, data=fields_set)
    lap("owners, statuses, late stages")
    activities = demo_activities_log(company=company, person_pks=person_pks, users=users)
    lap("activities")
    from tandem.demo.agenda import agenda_demo_seed

    tasks = agenda_demo_seed()
    lap("tasks")
    forms = demo_forms_create(company=company, by_user=users["marketing"])
    lap("web forms and sample submissions")
    from tandem.demo.goals import goals_demo_seed

    goals = goals_demo_seed(end=company.end, by_user=users["admin"])
    lap("KPI goals")
    if keep_bundle is not None:
        write_bundle(company, keep_bundle)
    from tandem.demo.feedback import feedback_demo_seed

    feedback = feedback_demo_seed(seed=company.seed, users=users)
    lap("feedback: themes mined, lead ratings")
    calendars = demo_calendars_set(years=range(company.start.year, company.end.year + 2), by_user=users["admin"])
    from tandem.demo.enablement import enablement_demo_seed

    assets = enablement_demo_seed(seed=company.seed, users=users)
    lap("enablement: products, personas, assets, content uses")
    from tandem.demo.campaigns import calendar_demo_seed
    from tandem.demo.collateral import collateral_demo_seed

    calendar_items = calendar_demo_seed(end=company.end, users=users)
    collateral_requests = collateral_demo_seed(seed=company.seed, users=users)
    lap("calendar: events, promotions, launch; collateral requests")
    from tandem.demo.audiences import audiences_demo_seed

    audiences = audiences_demo_seed(users=users)
    lap("audiences")
    # Every table was empty before: PostgreSQL plans by stale statistics until autovacuum gets round to them.
    tables_analyze(models_=[m for m in django_apps.get_models() if m.__module__.startswith("tandem.")])
    lap("planner statistics")
    report.counts = {
        "users": len(users),
        "campaigns": imported.files["campaigns.csv"].created,
        "people": imported.files["people.csv"].created,
        "accounts": imported.accounts.created,
        "touchpoints": imported.files["touchpoints.csv"].created,
        "questions": imported.files["questions.csv"].created,
        "deals": with_deals.files["deals.csv"].created,
        "stage_changes": imported.stage_changes + stage_changes + with_deals.stage_changes,
        "deal_stage_moves": deal_moves,
        "activities": activities,
        "tasks": tasks,
        "forms": forms,
        "goals": goals,
        "team_calendars": calendars,
        "assets": assets,
        "calendar_items": calendar_items,
        "collateral_requests": collateral_requests,
        "audiences": audiences,
        **feedback,
    }
    event_record(
        kind="demo.loaded",
        subject_type="core.demo",
        actor=users["admin"],
        rule=DEMO_RULE,
        data={"seed": company.seed, "end": company.end.isoformat(), "counts": report.counts},
    )
    return report
