"""The issue's case: "MQLs in healthcare who asked about pricing, with e-mail consent", counted by hand."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from io import StringIO

import pytest
from django.core.management import call_command

from tandem.audiences.models import AudienceMember
from tandem.audiences.selectors import audience_export_rows, audience_spec, spec_counts
from tandem.audiences.services import audience_create, audience_sync
from tandem.core.models import Event
from tandem.crm.consent.services import consent_record
from tandem.crm.models import Person
from tandem.crm.services import person_change_stage
from tandem.feedback.models import Question, Theme
from tandem.privacy.services import person_erase
from tandem.users.models import Role
from tandem.webhooks.models import Delivery, Endpoint
from tests.crm.factories import AccountFactory, PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@dataclass
class World:
    marketer: object
    pricing: Theme
    ann: Person  # MQL, Healthcare, asked about pricing, e-mail consent: a member
    bob: Person  # the same: a member until he withdraws his consent
    cat: Person  # the same but never consented: left out for consent
    dan: Person  # MQL, "healthcare " (as typed), pricing, consent: a member (segments ignore case)
    eve: Person  # the same as Ann but without an e-mail address: left out, no address
    others: list[Person]  # fail one criterion each, or were erased


def _person(
    email: str, *, stage: str = "mql", account=None, theme: Theme | None, consent: bool = True
) -> Person:
    person = PersonFactory(email=email, first_name=email.split("@")[0].capitalize() if email else "Eve",
                           last_name="Doe", stage="mql", account=account)  # fmt: skip
    if stage != "mql":
        person_change_stage(person=person, to_stage=stage, at=T0)
    if consent:
        consent_record(person=person, channel="email", granted=True, source="ui", at=T0)
    if theme is not None:
        Question.objects.create(person=person, asked_at=T0, text="How much is it per seat?", theme=theme)
    return person


def _world() -> World:
    marketer = UserFactory(username="mia", role=Role.MARKETING)
    health = AccountFactory(name="St Mary's", industry="Healthcare")
    health_typed = AccountFactory(name="Clinic", industry="healthcare ")
    software = AccountFactory(name="Bytes", industry="Software")
    pricing = Theme.objects.create(label="Pricing")
    security = Theme.objects.create(label="Security")
    ann = _person("ann@stmarys.example", account=health, theme=pricing)
    bob = _person("bob@stmarys.example", account=health, theme=pricing)
    cat = _person("cat@stmarys.example", account=health, theme=pricing, consent=False)
    dan = _person("dan@clinic.example", account=health_typed, theme=pricing)
    eve = _person("", account=health, theme=pricing)
    others = [
        _person("fay@stmarys.example", account=health, theme=security),  # asked about security only
        _person("gus@stmarys.example", stage="sql", account=health, theme=pricing),  # an SQL, not an MQL
        _person("hal@bytes.example", account=software, theme=pricing),  # software, not healthcare
        _person("ida@nowhere.example", account=None, theme=pricing),  # no company at all
        _person("jon@stmarys.example", account=health, theme=None),  # asked nothing
    ]
    erased = _person("kim@stmarys.example", account=health, theme=pricing)  # would be a member, but is erased
    person_erase(person=erased, reason="asked to be forgotten", by_user=None, via="cli")
    return World(marketer, pricing, ann, bob, cat, dan, eve, others)


def _spec(world: World) -> dict:
    return {
        "consent": "email",
        "match": "all",
        "criteria": [
            {"type": "stage", "stages": ["mql"]},
            {"type": "segment", "field": "industry", "values": ["Healthcare"]},
            {"type": "theme", "theme_ids": [world.pricing.pk]},
        ],
    }


def _subscriber() -> Endpoint:
    return Endpoint.objects.create(
        url="https://tool.example/hook",
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        event_types=["audience.member_added", "audience.member_removed"],
        created_at=T0,
    )


def test_the_audience_holds_exactly_the_consented_mqls_in_healthcare_who_asked_about_pricing():
    # given the world above
    world = _world()
    # when marketing saves the audience
    audience = audience_create(name="Healthcare pricing", spec=_spec(world), by_user=world.marketer)
    # then its counts are the hand-counted ones: Ann, Bob and Dan are members; Cat is left out for consent and
    # Eve for having no address; the SQL, the software and companyless people, the security-only and the
    # question-less ones do not match; the erased one is counted nowhere
    counts = spec_counts(spec=audience_spec(audience))
    assert counts.to_dict() == {"matched": 5, "members": 3, "left_out_consent": 1, "left_out_no_address": 1}
    # and the Mailchimp export lists exactly the members, by id, tagged with the audience
    rows = list(audience_export_rows(audience=audience, fmt="mailchimp", user=None))
    assert rows == [
        {"Email Address": "ann@stmarys.example", "First Name": "Ann", "Last Name": "Doe", "Phone Number": "", "Tags": "Healthcare pricing"},
        {"Email Address": "bob@stmarys.example", "First Name": "Bob", "Last Name": "Doe", "Phone Number": "", "Tags": "Healthcare pricing"},
        {"Email Address": "dan@clinic.example", "First Name": "Dan", "Last Name": "Doe", "Phone Number": "", "Tags": "Healthcare pricing"},
    ]  # fmt: skip


def test_a_withdrawal_leaves_the_export_and_the_next_sync_sends_member_removed():
    # given a webhook subscriber (first: emitters read the endpoints once per transaction) and the audience, synced once
    endpoint = _subscriber()
    world = _world()
    audience = audience_create(name="Healthcare pricing", spec=_spec(world), by_user=world.marketer)
    first = audience_sync(audience=audience)
    assert (first.added, first.removed) == (3, 0)
    added = Delivery.objects.filter(endpoint=endpoint, event_type="audience.member_added").order_by("id")
    assert [json.loads(d.body)["data"]["person_id"] for d in added] == [
        world.ann.pk,
        world.bob.pk,
        world.dan.pk,
    ]
    # when Bob withdraws his e-mail consent
    consent_record(
        person=world.bob, channel="email", granted=False, source="ui", at=T0 + dt.timedelta(days=1)
    )
    # then the export leaves him out at once, and he is counted as left out for consent
    emails = [r["email"] for r in audience_export_rows(audience=audience, fmt="mautic", user=None)]
    assert emails == ["ann@stmarys.example", "dan@clinic.example"]
    assert spec_counts(spec=audience_spec(audience)).to_dict() == {
        "matched": 5, "members": 2, "left_out_consent": 2, "left_out_no_address": 1,
    }  # fmt: skip
    # and the next sync removes him from the snapshot and sends exactly one member_removed, naming him
    second = audience_sync(audience=audience)
    assert (second.added, second.removed) == (0, 1)
    removed = list(Delivery.objects.filter(endpoint=endpoint, event_type="audience.member_removed"))
    assert len(removed) == 1
    body = json.loads(removed[0].body)
    assert body["type"] == "audience.member_removed"
    assert body["data"] == {
        "audience_id": audience.pk, "audience_name": "Healthcare pricing", "person_id": world.bob.pk,
        "email": "bob@stmarys.example", "first_name": "Bob", "last_name": "Doe",
        "consent_email": False, "consent_calls": False,
    }  # fmt: skip
    assert set(AudienceMember.objects.filter(audience=audience).values_list("person_id", flat=True)) == {
        world.ann.pk, world.dan.pk,
    }  # fmt: skip
    # and each sync that changed something left an event with its counts
    synced = Event.objects.filter(kind="audience.synced", subject_id=audience.pk).order_by("id")
    assert [(e.data["added"], e.data["removed"]) for e in synced] == [(3, 0), (0, 1)]
    # and a third sync finds nothing to send
    third = audience_sync(audience=audience)
    assert (third.added, third.removed) == (0, 0)
    assert Delivery.objects.filter(endpoint=endpoint).count() == 4


def test_the_cli_exports_the_members_in_mautics_columns():
    # given the audience
    world = _world()
    audience_create(name="Healthcare pricing", spec=_spec(world), by_user=world.marketer)
    out = StringIO()
    # when it is exported from the shell by name
    call_command("audience", "export", "Healthcare pricing", "--format", "mautic", stdout=out)
    # then the CSV has Mautic's columns and the three members
    assert out.getvalue().splitlines() == [
        "email,firstname,lastname,company,position,phone,country,tags",
        "ann@stmarys.example,Ann,Doe,St Mary's,Head of Operations,,DE,Healthcare pricing",
        "bob@stmarys.example,Bob,Doe,St Mary's,Head of Operations,,DE,Healthcare pricing",
        "dan@clinic.example,Dan,Doe,Clinic,Head of Operations,,DE,Healthcare pricing",
    ]


def test_counting_and_exporting_take_one_query_each(django_assert_num_queries):
    # given the audience
    world = _world()
    audience = audience_create(name="Healthcare pricing", spec=_spec(world), by_user=world.marketer)
    spec = audience_spec(audience)
    # when it is counted, then it is one query
    with django_assert_num_queries(1):
        spec_counts(spec=spec)
    # when it is exported, then it is one query (per 2,000 members)
    with django_assert_num_queries(1):
        rows = list(audience_export_rows(audience=audience, fmt="mailchimp", user=None))
    assert len(rows) == 3


def test_the_cli_lists_and_shows_the_audience_with_its_consent_count():
    # given the audience
    world = _world()
    audience_create(
        name="Healthcare pricing", spec=_spec(world), by_user=world.marketer, reason="webinar invite"
    )
    listing, shown = StringIO(), StringIO()
    # when it is listed and shown
    call_command("audience", "list", "--format", "json", stdout=listing)
    call_command("audience", "show", "Healthcare pricing", stdout=shown)
    # then the list gives its counts and the show its sentences, counts and first version
    assert json.loads(listing.getvalue())[0] | {"id": 0} == {
        "id": 0, "name": "Healthcare pricing", "version": 1,
        "matched": 5, "members": 3, "left_out_consent": 1, "left_out_no_address": 1,
    }  # fmt: skip
    lines = shown.getvalue().splitlines()
    assert lines[1:6] == [
        "  All of:",
        "  – Lifecycle stage is MQL",
        "  – Industry is 'Healthcare'",
        "  – Asked a question about 'Pricing'",
        "  Only people who consented to e-mail (erased people never)",
    ]
    assert lines[6] == "Members: 3 of 5 meeting the criteria; left out for consent: 1; without an address: 1"
    assert lines[7].endswith("mia  webinar invite")
