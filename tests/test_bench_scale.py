"""bench/bench_scale.py's builder at a tiny size: the rows it writes, with their keys, on either database."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest
from django.db.models import Count

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_scale
from tandem.campaigns.models import Campaign, CampaignCost, Touchpoint
from tandem.crm.models import Account, Activity, Deal, Person, StageChange

END = dt.date(2026, 12, 7)


@pytest.mark.django_db
def test_company_build_writes_a_company_of_the_size_asked(settings):  # type: ignore[no-untyped-def]
    # given a fast password hasher for the demo's users
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    # when 50 people with 300 touchpoints are built
    counts = bench_scale.company_ensure(people=50, touchpoints=300, seed=7, end=END, rebuild=False)["counts"]

    # then every table holds what the builder counted, and the sizes asked for exactly
    assert (Person.objects.count(), Touchpoint.objects.count(), Account.objects.count()) == (50, 300, 5)
    assert (Campaign.objects.count(), CampaignCost.objects.count()) == (120, 360)
    assert counts == {
        "campaigns": 120, "campaign costs": 360, "accounts": 5, "touchpoints": 300, "people": 50,
        "stage changes": StageChange.objects.count(), "deals": Deal.objects.count(),
        "activities": Activity.objects.count(),
    }  # fmt: skip
    assert StageChange.objects.filter(to_stage="lead").count() == 50
    assert (StageChange.objects.count(), Deal.objects.count(), Activity.objects.count()) == (81, 4, 22)
    # everyone has a first touchpoint, on their channel, when they were created
    assert not Person.objects.annotate(n=Count("touchpoints")).filter(n=0).exists()
    person = Person.objects.order_by("id").first()
    assert person is not None
    first = Touchpoint.objects.filter(person=person).order_by("occurred_at", "id").first()
    assert first is not None
    assert (first.channel, first.occurred_at) == (person.original_channel, person.created_at)


@pytest.mark.django_db
def test_company_ensure_does_not_build_again_what_the_database_holds(settings):  # type: ignore[no-untyped-def]
    # given a built company
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    bench_scale.company_ensure(people=50, touchpoints=300, seed=7, end=END, rebuild=False)

    # when asked for the same company again
    marker = bench_scale.company_ensure(people=50, touchpoints=300, seed=7, end=END, rebuild=False)

    # then nothing more is written
    assert (marker["people"], marker["touchpoints"], marker["end"]) == (50, 300, "2026-12-07")
    assert (Person.objects.count(), Touchpoint.objects.count()) == (50, 300)
