"""The demo's tasks: each rep's day opens with a few reminders about their own leads and deals."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from tandem.crm.agenda.services import task_create
from tandem.crm.models import Deal, Person
from tandem.users.models import Role, User

# (title, hours from now, kind, priority): one overdue, two for today, one for next week, per rep.
PLAN = [
    ("Call {name} back about pricing", -3, "call", "high"),
    ("Send {name} the case study", 2, "email", "normal"),
    ("Check in with {name} on the proposal", 5, "call", "normal"),
    ("Prepare the {deal} review", 24 * 6, "meeting", "low"),
]


def agenda_demo_seed(*, now: dt.datetime | None = None) -> int:
    """Give every rep four tasks about their newest leads and open deals (through crm.agenda's service)."""
    moment = now or timezone.now()
    made = 0
    for rep in User.objects.filter(role=Role.SALES_REP, is_active=True).order_by("pk"):
        people = list(Person.objects.filter(owner=rep).order_by("-created_at", "-pk")[:3])
        deal = Deal.objects.filter(owner=rep, stage="open").order_by("-created_at", "-pk").first()
        if len(people) < 3 or deal is None:
            continue
        for i, (title, hours, kind, priority) in enumerate(PLAN):
            about: dict[str, Any] = {"deal_id": deal.pk} if i == 3 else {"person_id": people[i].pk}
            task_create(
                title=title.format(name=people[i % 3].full_name or people[i % 3].email, deal=deal.name or "deal"),
                due_at=moment + dt.timedelta(hours=hours), by_user=rep, activity_kind=kind, priority=priority,
                now=moment, **about,
            )
            made += 1
    return made
