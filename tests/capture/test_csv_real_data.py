"""Real exports through the shipped mappings: X Education's 9,240 leads and Olist's funnel (8,000 MQLs, 842
won deals). Both must import completely, exactly, and leave the database as it is when run again."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db.models import Count

from tandem.campaigns.models import Touchpoint
from tandem.crm.models import Deal, ExternalId, Person, StageChange

pytestmark = pytest.mark.shared_data


def _import(path: object, kind: str, mapping: str) -> list[str]:
    out = io.StringIO()
    call_command(
        "import", "csv", str(path), "--kind", kind, "--mapping", mapping, "--no-progress", stdout=out
    )
    lines = out.getvalue().splitlines()
    # The first line says how the file was read (tests/capture/test_csv_files_and_identities.py checks it);
    # these real exports are all plain UTF-8 CSV.
    assert lines[0] == "Detected: UTF-8, comma-separated"
    return lines[1:]


def _person(system: str, external_id: str) -> Person:
    return Person.objects.get(external_ids__system=system, external_ids__external_id=external_id)


def test_x_education_leads_import_once_and_only_once(db, shared_data):
    # given
    path = shared_data / "x_education_leads" / "Leads.csv"
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    # when
    started = time.perf_counter()
    first = _import(path, "people", "auto")
    seconds = time.perf_counter() - started
    print(f"X Education import: {seconds:.2f} s for {len(rows)} rows")
    second = _import(path, "people", "auto")
    # then: auto recognised the file; 9,240 people, one touchpoint and one id each, nothing doubled
    assert first[:2] == [
        "mapping: x-education (people); 9240 rows",
        "created 9240  updated 0  unchanged 0  merged 0  refused 0",
    ]
    assert second[:2] == [
        "mapping: x-education (people); 9240 rows",
        "created 0  updated 0  unchanged 9240  merged 0  refused 0",
    ]
    assert Person.objects.count() == len(rows) == 9240
    assert Touchpoint.objects.count() == 9240
    assert ExternalId.objects.filter(system="x_education").count() == 9240
    # Converted is the outcome: 3,561 customers with a won deal each (lead, opportunity, customer)
    assert StageChange.objects.count() == 9240 + 2 * 3561
    assert dict(Person.objects.values_list("lifecycle_stage").annotate(n=Count("id"))) == {
        "lead": 9240 - 3561,
        "customer": 3561,
    }
    assert Deal.objects.filter(stage="won").count() == Deal.objects.count() == 3561
    # the channel and kind counts follow the file's Lead Source and Lead Origin counts (SOURCE.md)
    kinds = dict(Touchpoint.objects.values_list("kind").annotate(n=Count("id")))
    assert kinds == {"other": 3580 + 55 + 1, "form_submit": 4886 + 718}
    channels = dict(Person.objects.values_list("original_channel").annotate(n=Count("id")))
    assert channels["paid_search"] == 2868 + 5 + 6 + 1  # Google, google, bing, Pay per Click Ads
    assert channels["direct"] == 2543 + 1755 + 2  # Direct Traffic, Olark Chat, Live Chat
    assert channels["other"] == 36 + 1  # no Lead Source, testone
    # three leads, cell by cell ('Select' is no value)
    olark = _person("x_education", "7927b2df-8bba-4d29-b9a2-b6e0beafe620")
    google = _person("x_education", "9fae7df4-169d-489b-afe4-0f3d752542ed")
    welingak = _person("x_education", "895d4905-f534-4f18-915b-8d239a72b5dc")
    assert [
        (p.original_channel, p.touchpoints.get().kind, p.email_normalized) for p in (olark, google, welingak)
    ] == [
        ("direct", "other", None),
        ("paid_search", "form_submit", None),
        ("partner", "form_submit", None),
    ]
    assert google.custom_fields == {
        "lead_origin": "Landing Page Submission",
        "lead_source": "Google",
        "country": "India",
        "lead_number": "660673",
        "do_not_email": "No",
        "do_not_call": "No",
        "total_visits": "2",
        "time_on_website": "1640",
        "page_views_per_visit": "2",
        "last_activity": "Email Opened",
        "specialization": "Supply Chain Management",
        "heard_about_us": "Online Search",
        "course_motive": "Better Career Prospects",
        "saw_ad_search": "No",
        "saw_ad_magazine": "No",
        "saw_ad_newspaper_article": "No",
        "saw_ad_forums": "No",
        "saw_ad_newspaper": "No",
        "saw_ad_digital": "No",
        "through_recommendations": "No",
        "wants_course_updates": "No",
        "tags": "Will revert after reading the email",
        "lead_quality": "Low in Relevance",
        "wants_supply_chain_content": "No",
        "wants_dm_content": "No",
        "lead_profile": "Potential Lead",
        "city": "Mumbai",
        "asymmetrique_activity_index": "02.Medium",
        "asymmetrique_profile_index": "01.High",
        "asymmetrique_activity_score": "14",
        "asymmetrique_profile_score": "20",
        "pays_by_cheque": "No",
        "free_book": "No",
        "last_notable_activity": "Modified",
    }
    assert "city" not in olark.custom_fields and "specialization" not in olark.custom_fields
    assert (olark.custom_fields["lead_source"], olark.custom_fields["tags"]) == (
        "Olark Chat",
        "Interested in other courses",
    )
    assert (welingak.custom_fields["lead_source"], "total_visits" in welingak.custom_fields) == (
        "Welingak Website",
        False,
    )
    assert (google.job_title, google.lifecycle_stage, olark.lifecycle_stage) == ("Unemployed", "customer", "lead")
    # the file has no dates: lead numbers date the leads over 2018 and 2019 (the preset's created_at_from_order)
    assert (olark.created_at, google.created_at) == (
        dt.datetime(2019, 12, 31, tzinfo=dt.UTC),
        dt.datetime(2019, 12, 30, 10, 12, 39, tzinfo=dt.UTC),
    )


def test_olist_mqls_then_closed_deals(db, shared_data):
    # given
    folder = shared_data / "olist_marketing_funnel"
    mqls = folder / "olist_marketing_qualified_leads_dataset.csv"
    deals = folder / "olist_closed_deals_dataset.csv"
    # when
    people_out = _import(mqls, "people", "olist-mql")
    deals_out = _import(deals, "deals", "auto")
    again = _import(deals, "deals", "olist-deals")
    # then: every deal found its MQL (SOURCE.md: all 842 do)
    assert people_out[1] == "created 8000  updated 0  unchanged 0  merged 0  refused 0"
    assert deals_out[:2] == [
        "mapping: olist-deals (deals); 842 rows",
        "created 842  updated 0  unchanged 0  merged 0  refused 0",
    ]
    assert again[1] == "created 0  updated 0  unchanged 842  merged 0  refused 0"
    assert (Person.objects.count(), Deal.objects.count(), Touchpoint.objects.count()) == (8000, 842, 8000)
    stages = dict(Person.objects.values_list("lifecycle_stage").annotate(n=Count("id")))
    assert stages == {"mql": 8000 - 842, "customer": 842}
    first = _person("olist_mql", "dac32acd4db4c29c230538b72f8dd87d")
    assert (first.created_at, first.original_channel, first.custom_fields) == (
        dt.datetime(2018, 2, 1, tzinfo=dt.UTC),
        "organic_social",
        {"landing_page_id": "88740e65d5d6b056e0cda098e1ea6313", "origin": "social"},
    )
    blank = _person("olist_mql", "8e952443b19bfc5d0b90e6c4eabcb8fb")
    assert (blank.original_channel, blank.touchpoints.get().channel, blank.touchpoints.get().kind) == (
        "other",
        "other",
        "form_submit",
    )
    deal = Deal.objects.select_related("person").get(external_id="olist-2c43fb513632d29b3b58df74816f1b06")
    assert (deal.stage, deal.amount, deal.closed_at, deal.created_at) == (
        "won",
        Decimal("0.00"),
        dt.datetime(2018, 2, 26, 19, 58, 54, tzinfo=dt.UTC),
        dt.datetime(2018, 2, 26, 19, 58, 54, tzinfo=dt.UTC),
    )
    assert deal.person is not None
    assert deal.person.external_ids.get().external_id == "5420aad7fec3549a85876ba1c529bd84"
    assert deal.person.lifecycle_stage == "customer"
    assert deal.custom_fields == {
        "sdr_id": "a8387c01a09e99ce014107505b92388c",
        "sr_id": "4ef15afb4b2723d8f3d81e51ec7afefe",
        "business_segment": "pet",
        "lead_type": "online_medium",
        "lead_behaviour_profile": "cat",
        "business_type": "reseller",
        "declared_monthly_revenue": "0.0",
    }
    # a customer's history: mql at first contact, opportunity and customer when the deal was won
    history = list(
        StageChange.objects.filter(person=deal.person)
        .order_by("changed_at", "id")
        .values_list("to_stage", "changed_at")
    )
    assert [stage for stage, _ in history] == ["lead", "mql", "opportunity", "customer"]
    assert history[-1][1] == deal.closed_at
