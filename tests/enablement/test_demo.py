"""The demo company's enablement: products, personas matching its people, a library with files, and uses."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from tandem.crm.models import Deal, Person
from tandem.enablement.models import Asset, ContentUse, Persona, Product
from tandem.enablement.selectors import person_persona


@pytest.fixture(autouse=True)
def _fast_passwords(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_demo_seeds_personas_that_match_its_people_and_a_library_in_use(db, settings):
    # given an empty database
    # when the demo company is loaded
    call_command("demo", "--people", "300", "--end", "2026-06-30", "--no-serve", stdout=io.StringIO())
    # then products, eight personas and fourteen assets exist, two of them generated files in the media folder
    assert Product.objects.count() == 3
    assert Persona.objects.count() == 8
    assert Asset.objects.count() == 14
    stored = [a.file for a in Asset.objects.exclude(file="")]
    assert len(stored) == 2
    assert all((settings.MEDIA_ROOT / name).is_file() for name in stored)
    # and every demo person whose generated persona has a Tandem persona is matched to it
    named = {p.name for p in Persona.objects.all()}
    people = [p for p in Person.objects.exclude(custom_fields__persona="") if p.custom_fields.get("persona") in named][:40]
    assert people
    assert all(person_persona(person_id=p.pk).persona.name == p.custom_fields["persona"] for p in people)  # type: ignore[union-attr]
    # and reps used content on some of the deals (about a third are drawn; a small demo has few deals)
    on_deals = ContentUse.objects.filter(deal__isnull=False)
    assert 0 < on_deals.count() < Deal.objects.filter(person__isnull=False).count()
    assert all(u.deal.person_id == u.person_id for u in on_deals.select_related("deal"))
    # and the rep's library hides the expired price list
    rep = Client()
    assert rep.login(username="rep", password="tandem-demo")
    page = rep.get("/enablement/").content.decode()
    assert "Pricing and packaging one-pager" in page and "Last year&#x27;s price list" not in page
