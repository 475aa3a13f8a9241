"""A small company with one distinctive person who touched every part of Tandem: the erase and export tests."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from tandem.analytics.statistics.models import Experiment, ExperimentAssignment
from tandem.audiences.models import Audience, AudienceMember
from tandem.campaigns.models import Campaign
from tandem.campaigns.services import touchpoint_record
from tandem.crm.activities.services import activity_record
from tandem.crm.agenda.services import task_complete, task_create
from tandem.crm.models import Person
from tandem.crm.services import (
    deal_close,
    deal_create,
    person_change_stage,
    person_link_external_id,
    person_merge,
    person_update,
)
from tandem.enablement.models import ContentUse
from tandem.enablement.requests.models import CollateralRequest
from tandem.feedback.services import lead_rating_record, question_record
from tandem.lifecycle.models import Notification
from tandem.scoring.models import PersonScore
from tests.campaigns.factories import CampaignFactory
from tests.capture.factories import make_form
from tests.crm.factories import PersonFactory
from tests.enablement.factories import AssetFactory
from tests.users.factories import UserFactory

EMAIL = "zelda.quimbyxx@erasure-probe.example"
FIRST, LAST = "Zelda", "Quimbyxx"
NAME = f"{FIRST} {LAST}"
PHONE = "+44 20 7946 0999"
PHONE_DIGITS = "442079460999"
IP = "203.0.113.77"
AGENT = "ErasureProbe/9.9 (X11)"
MERGED = "zq.old@erasure-probe.example"
# Strings that must be gone from every text column of every table after the erasure.
NEEDLES = (EMAIL, NAME, PHONE, PHONE_DIGITS, IP, AGENT, MERGED)
T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@dataclass
class World:
    admin: Any
    rep: Any
    person: Person
    others: list[Person]
    campaigns: list[Campaign]


def _journey(person: Person, *, campaign: Campaign, days: int, to: tuple[str, ...]) -> None:
    for i in range(days):
        touchpoint_record(
            person=person,
            kind="page_view",
            channel=campaign.channel,
            campaign=campaign,
            occurred_at=T0 + i * DAY,
        )
    for i, stage in enumerate(to):
        person_change_stage(
            person=person, to_stage=stage, at=T0 + (days + i) * DAY, reason=f"moved to {stage}"
        )


def world_build() -> World:
    """The company: three other people with journeys and a won deal, and Zelda, present in every table."""
    admin = UserFactory(role="admin", username="erase-admin")
    rep = UserFactory(role="sales_rep", username="erase-rep")
    search, webinar = CampaignFactory(channel="paid_search"), CampaignFactory(channel="webinar")
    others = [PersonFactory(created_at=T0, owner=rep) for _ in range(3)]
    _journey(others[0], campaign=search, days=2, to=("mql",))
    _journey(others[1], campaign=webinar, days=3, to=("mql", "sql"))
    _journey(others[2], campaign=search, days=1, to=())
    won = deal_create(person=others[1], amount=Decimal("5000"), created_at=T0 + 5 * DAY, owner=rep)
    deal_close(deal=won, won=True, at=T0 + 9 * DAY)

    # Zelda arrives by a web form (address, browser, referrer, a ticked consent box) ...
    form = make_form(campaign=webinar)
    client = Client(REMOTE_ADDR=IP, HTTP_USER_AGENT=AGENT)
    body = {
        "email": EMAIL,
        "first_name": FIRST,
        "company": "Probe Industries",
        "consent_email": "on",
        "page_url": f"https://www.example.com/demo?email={EMAIL}",
        "referrer": f"https://mail.example/?to={EMAIL}",
    }
    response = client.post(
        f"/api/capture/forms/{form.public_key}/submissions",
        data=json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    # ... and a second post refused (a choice the form does not offer) still names her in the journal.
    bad = {"email": EMAIL, "first_name": FIRST, "team_size": f"{NAME} and friends"}
    client.post(
        f"/api/capture/forms/{form.public_key}/submissions",
        data=json.dumps(bad),
        content_type="application/json",
    )
    person = Person.objects.get(email_normalized=EMAIL)
    person_update(person=person, by_user=rep, last_name=LAST, phone=PHONE, job_title="Chief Probe Officer")
    Person.objects.filter(pk=person.pk).update(owner=rep, custom_fields={"nickname": NAME})
    person.refresh_from_db()
    # An older record of her, merged in: her old address becomes an outside id and the merge event names it.
    old = PersonFactory(email=MERGED, first_name=FIRST, last_name=LAST, created_at=T0)
    person_merge(survivor=person, duplicate=old, by_user=admin, reason="same person")
    person_link_external_id(person=person, system="hubspot", external_id="hs-4711", by_user=admin)

    _journey(person, campaign=search, days=2, to=("mql", "sql"))
    touchpoint_record(
        person=person,
        kind="content_download",
        channel="organic_search",
        occurred_at=T0 + 4 * DAY,
        url=f"https://www.example.com/guide?who={EMAIL}",
        referrer="https://www.google.com/",
        custom_fields={"properties": {"name": NAME}},
    )
    call = activity_record(
        person=person,
        kind="call",
        user=rep,
        occurred_at=T0 + 5 * DAY,
        outcome="connected",
        subject=f"Call with {FIRST}",
        notes=f"{NAME} ({PHONE}) wants a demo; mail {EMAIL}",
    )
    deal = deal_create(
        person=person, amount=Decimal("12000"), name=f"{NAME} pilot", created_at=T0 + 6 * DAY, owner=rep
    )
    deal_close(deal=deal, won=True, at=T0 + 12 * DAY)
    due = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    task_create(
        title=f"Call {NAME} back", due_at=due, by_user=rep, person_id=person.pk, notes=f"ring {PHONE}"
    )
    done = task_create(title=f"Send {FIRST} the deck", due_at=due, by_user=rep, person_id=person.pk)
    task_complete(task=done, by_user=rep)
    task_create(title=f"Ask the team about {NAME}", due_at=due, by_user=rep)
    question_record(
        person=person,
        text=f"{NAME} asked: does it work offline?",
        activity=call,
        by_user=rep,
        asked_at=T0 + 5 * DAY,
    )
    lead_rating_record(person=person, rating=4, reasons=["engaged"], note=f"{FIRST} is keen", by_user=rep)
    ContentUse.objects.create(
        asset=AssetFactory(),
        person=person,
        deal=deal,
        how="sent",
        note=f"sent to {EMAIL}",
        used_by=rep,
        used_at=T0 + 7 * DAY,
    )
    CollateralRequest.objects.create(
        kind="deck",
        purpose=f"A deck for {NAME}",
        requested_by=rep,
        deal=deal,
        due_on=dt.date(2026, 3, 1),
        status_changed_at=T0,
        created_at=T0,
    )
    Notification.objects.create(
        user=rep,
        kind="sla_breach",
        text=f"SLA breach: {NAME} untouched",
        url=f"/people/{person.pk}/",
        created_at=T0,
    )
    audience = Audience.objects.create(name="Newsletter", spec={"consent": "email"}, created_at=T0)
    AudienceMember.objects.create(audience=audience, person=person, added_at=T0)
    experiment = Experiment.objects.create(name="Subject lines", variants=["a", "b"])
    ExperimentAssignment.objects.create(
        experiment=experiment, unit_id=EMAIL, person=person, variant="a", assigned_at=T0
    )
    PersonScore.objects.update_or_create(
        person=person,
        defaults={
            "probability": 0.4,
            "tier": "hot",
            "expected_value": 4800.0,
            "scored_at": T0,
            "factors": {
                "raising": [{"text": f"Job title: Chief Probe Officer ({NAME})", "contribution": 0.2}]
            },
        },
    )
    LogEntry.objects.create(
        user=admin,
        content_type=ContentType.objects.get_for_model(Person),
        object_id=str(person.pk),
        object_repr=str(person),
        action_flag=CHANGE,
        change_message=f"Changed phone of {NAME}.",
    )
    # A CSV dry run of a list that names her: the stored upload is kept for "run for real" (a real run's is removed).
    importer = Client()
    importer.force_login(admin)
    csv_text = f"Email,First Name,Last Name,Phone Number\n{EMAIL},{FIRST},{LAST},{PHONE}\nkeep.me@acme.example,Kim,Keep,\n"
    upload = SimpleUploadedFile("list.csv", csv_text.encode(), content_type="text/csv")
    response = importer.post("/api/imports/csv", {"file": upload, "kind": "people", "dry_run": True})
    assert response.status_code in (200, 201), response.content
    person.refresh_from_db()
    return World(admin=admin, rep=rep, person=person, others=others, campaigns=[search, webinar])
