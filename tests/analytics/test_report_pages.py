"""Report selectors, pages and API on a small hand-made history (journeys, funnel counts, totals, errors)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.core.cache import cache

from tandem.analytics.reports.selectors import attribution_journeys_get, funnel_report_get
from tandem.campaigns.models import Touchpoint
from tandem.crm.models import StageChange
from tandem.users.models import Role
from tests.browser_helpers import PASSWORD, browser_login
from tests.crm.factories import DealFactory, PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _day(n: int) -> dt.datetime:
    return dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC) + dt.timedelta(days=n)


def _history() -> tuple[int, int]:
    """A: email d1, paid_search d3, webinar d20 (after the win), lead d1, opportunity d3, won d10 for 1000.
    B: content d2, email d4, lead d2, MQL d6, never won."""
    cache.clear()
    a = PersonFactory(original_channel="email")
    b = PersonFactory(original_channel="content")
    StageChange.objects.all().delete()
    for person, stage, day in ((a, "lead", 1), (a, "opportunity", 3), (a, "customer", 10), (b, "lead", 2), (b, "mql", 6)):
        StageChange.objects.create(person=person, to_stage=stage, changed_at=_day(day))
    for person, channel, day in ((a, "email", 1), (a, "paid_search", 3), (a, "webinar", 20), (b, "content", 2), (b, "email", 4)):
        Touchpoint.objects.create(person=person, channel=channel, occurred_at=_day(day))
    DealFactory(person=a, stage="won", amount=Decimal("1000.00"), closed_at=_day(10))
    return a.pk, b.pk


def test_journeys_end_at_the_first_won_deal_and_never_won_journeys_keep_every_touch():
    # given
    a, b = _history()
    # when
    data = attribution_journeys_get(by="channel")
    j = data.journeys
    # then keys sorted; A keeps email, paid_search (webinar after the close is dropped); B keeps both touches
    assert data.person_ids == [a, b]
    assert j.keys == ("content", "email", "paid_search", "webinar")
    assert j.codes.tolist() == [1, 2, 0, 1]
    assert j.offsets.tolist() == [0, 2, 4]
    assert j.converted.tolist() == [True, False]
    assert j.revenue.tolist() == [1000.0, 0.0]
    # W-shaped milestones: lead created by A's first touch, opportunity by its second
    assert j.lead_index is not None and j.opportunity_index is not None
    assert j.lead_index.tolist() == [0, 0]
    assert j.opportunity_index.tolist()[0] == 1


def test_journeys_period_keeps_journeys_ending_in_it():
    # given A ends d10 (2025-03-11), B ends at its last touch d4 (2025-03-05)
    _history()
    # when
    data = attribution_journeys_get(by="channel", date_from=dt.date(2025, 3, 10), date_to=dt.date(2025, 3, 31))
    # then only A
    assert data.journeys.converted.tolist() == [True]


def test_funnel_report_from_stage_changes_counts_skipped_stages():
    # given A skipped MQL/SAL/SQL on the way to opportunity; B reached MQL
    _history()
    # when
    report = funnel_report_get(by="channel")
    # then
    assert report["total"]["counts"] == {"lead": 2, "mql": 2, "sal": 1, "sql": 1, "opportunity": 1, "customer": 1}
    lead_mql = report["total"]["steps"][0]
    assert (lead_mql["n"], lead_mql["converted"], lead_mql["rate"]) == (2, 2, 1.0)
    # velocity lead→MQL: A 2 days (skipped, reached at d3), B 4 days → median 3
    assert lead_mql["days_median"] == pytest.approx(3.0)
    assert [(s["key"], s["counts"]["mql"]) for s in report["segments"]] == [("content", 1), ("email", 1)]


def test_attribution_page_shows_the_same_totals_for_every_model(client):
    # given
    _history()
    client.force_login(UserFactory(role=Role.MARKETING))
    # when / then: linear and W-shaped split the one deal differently, totals stay 1 and 1,000
    linear = client.get("/reports/attribution/?model=linear")
    w_shaped = client.get("/reports/attribution/?model=w_shaped", HTTP_HX_REQUEST="true")
    assert linear.status_code == 200 and w_shaped.status_code == 200
    assert b"Rule-based models only share the credit" in linear.content
    assert linear.context["report"]["total_conversions"] == w_shaped.context["report"]["total_conversions"] == 1.0
    assert {r["key"]: r["conversions"] for r in linear.context["report"]["rows"]} == {
        "content": 0.0,
        "email": 0.5,
        "paid_search": 0.5,
        "webinar": 0.0,
    }
    shares = {r["key"]: r["conversions"] for r in w_shaped.context["report"]["rows"]}
    assert shares["email"] == pytest.approx(2 / 3) and shares["paid_search"] == pytest.approx(1 / 3)
    assert b"<html" not in w_shaped.content  # the HTMX swap gets the fragment only


def test_report_pages_query_counts_are_pinned(client, django_assert_num_queries):
    # given a cold cache
    _history()
    client.force_login(UserFactory(role=Role.VIEWER))
    client.get("/")  # session and user loaded once outside the count
    cache.clear()
    # when / then: session + user + the data version + stage changes + segment, and the deal stages: pipelines,
    # the default one, its stages, reach per stage, lost from each, in each now
    with django_assert_num_queries(11):
        assert client.get("/reports/funnel/?by=channel").status_code == 200
    # session + user + the data version, keys, won deals, the converted people's touches and stage changes, the
    # others' transition counts
    with django_assert_num_queries(8):
        assert client.get("/reports/attribution/?model=markov").status_code == 200
    # warm: only session, user and the data version
    with django_assert_num_queries(3):
        assert client.get("/reports/attribution/?model=markov").status_code == 200


def test_attribution_csv_download_and_funnel_csv(client):
    # given
    _history()
    client.force_login(UserFactory(role=Role.SALES_REP))
    # when
    attribution = client.get("/reports/attribution/?model=last_touch&format=csv")
    funnel = client.get("/reports/funnel/?format=csv")
    # then
    assert attribution["Content-Type"] == "text/csv"
    assert attribution.content.decode().splitlines()[:2] == ["key,conversions,revenue", "paid_search,1.0,1000.0"]
    assert funnel.content.decode().splitlines()[1].startswith("total,all,lead,mql,2,2,1.0,")


def test_api_attribution_shape_and_422_naming_by(client, monkeypatch):
    # given
    _history()
    client.force_login(UserFactory(role=Role.MARKETING))
    # when
    ok = client.get("/api/reports/attribution?model=first_touch&by=channel")
    bad_model = client.get("/api/reports/attribution?model=magic")
    monkeypatch.setattr("tandem.stats.attribution.SHAPLEY_MAX_KEYS", 0)
    too_many = client.get("/api/reports/attribution?model=shapley&by=campaign")
    # then
    assert ok.status_code == 200
    assert ok.json() == {
        "model": "first_touch",
        "by": "channel",
        "total_conversions": 1.0,
        "total_revenue": 1000.0,
        "rows": [
            {"key": "email", "conversions": 1.0, "revenue": 1000.0},
            {"key": "content", "conversions": 0.0, "revenue": 0.0},
            {"key": "paid_search", "conversions": 0.0, "revenue": 0.0},
            {"key": "webinar", "conversions": 0.0, "revenue": 0.0},
        ],
    }
    assert bad_model.status_code == 422 and bad_model.json()["field"] == "model"
    assert too_many.status_code == 422 and too_many.json()["field"] == "by"


def test_api_funnel(client):
    # given
    _history()
    client.force_login(UserFactory(role=Role.VIEWER))
    # when
    response = client.get("/api/reports/funnel?by=none&period=quarter")
    bad = client.get("/api/reports/funnel?by=planet")
    # then
    assert response.status_code == 200
    assert [c["key"] for c in response.json()["cohorts"]] == ["2025-Q1"]
    assert bad.status_code == 422 and bad.json()["field"] == "by"
    assert np.isclose(response.json()["total"]["steps"][0]["rate"], 1.0)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_marketer_switches_attribution_models_and_sees_the_same_totals_split_differently(live_server, page):
    # given a marketer and the two journeys (one deal of 1,000 after email d1 → paid_search d3)
    from tandem.users.roles import roles_sync
    from tandem.users.services import user_create

    roles_sync()
    user_create(username="mia", password=PASSWORD, role=Role.MARKETING, first_name="Mia", last_name="M")
    _history()
    browser_login(page, live_server.url, "mia")
    # when she opens the attribution page (first touch) and switches to last touch
    page.goto(f"{live_server.url}/reports/attribution/?model=first_touch")
    first_row = page.text_content("#attribution-table tbody tr:first-child td:first-child")
    totals_before = (page.text_content("#total-conversions"), page.text_content("#total-revenue"))
    page.select_option("#model-select", "last_touch")
    page.wait_for_function("() => document.querySelector('#model-label').textContent.includes('Last touch')")
    # then the same totals, the credit moved from email to paid_search, and the chart redrawn
    assert first_row == "email"
    assert (page.text_content("#total-conversions"), page.text_content("#total-revenue")) == totals_before == ("1", "1,000")
    assert page.text_content("#attribution-table tbody tr:first-child td:first-child") == "paid_search"
    assert "model=last_touch" in page.url
    page.wait_for_selector("[data-chart='attribution-figure'] .main-svg")
