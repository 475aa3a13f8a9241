"""Unit economics through the database: selectors, the page (pinned queries, CSV), the API and the CLI."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command

from tandem.analytics.economics.selectors import economics_report_get, ltv_report_get
from tandem.campaigns.models import Touchpoint
from tandem.crm.models import StageChange
from tandem.scoring.models import PersonScore
from tandem.users.models import Role
from tests.browser_helpers import PASSWORD, browser_login
from tests.campaigns.factories import CampaignFactory
from tests.crm.factories import AccountFactory, DealFactory, PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2025, 6, 30)


def _day(n: int) -> dt.datetime:
    return dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC) + dt.timedelta(days=n)


def _history() -> None:
    """Email campaign: 310 over 1–31 March (10 a day). Events campaign: 100 over 10–19 March (10 a day).
    a (email, account X): lead d1, MQL d3, SQL d5, customer d10, won 1,000 on d10 (11 March); X buys again
    for 500 on 15 May. b (events): lead d12, MQL d14. c (email): lead d2. One touch each, on the lead day."""
    cache.clear()
    mail = CampaignFactory(name="Spring mail", channel="email", actual_cost=Decimal("310.00"),
                           started_on=dt.date(2025, 3, 1), ended_on=dt.date(2025, 3, 31))
    expo = CampaignFactory(name="Expo", channel="events", actual_cost=Decimal("100.00"),
                           started_on=dt.date(2025, 3, 10), ended_on=dt.date(2025, 3, 19))
    account = AccountFactory()
    a = PersonFactory(original_channel="email", original_campaign=mail, account=account)
    b = PersonFactory(original_channel="events", original_campaign=expo, account=None)
    c = PersonFactory(original_channel="email", original_campaign=mail, account=None)
    StageChange.objects.all().delete()  # the factory's own stage changes
    for person, stage, day in (
        (a, "lead", 1), (a, "mql", 3), (a, "sql", 5), (a, "customer", 10), (b, "lead", 12), (b, "mql", 14), (c, "lead", 2)
    ):
        StageChange.objects.create(person=person, to_stage=stage, changed_at=_day(day))
    for person, campaign, day in ((a, mail, 1), (b, expo, 12), (c, mail, 2)):
        Touchpoint.objects.create(person=person, channel=campaign.channel, campaign=campaign, occurred_at=_day(day))
    DealFactory(person=a, account=account, stage="won", amount=Decimal("1000.00"), closed_at=_day(10))
    DealFactory(person=a, account=account, stage="won", amount=Decimal("500.00"),
                closed_at=dt.datetime(2025, 5, 15, 12, tzinfo=dt.UTC))
    for person, value in ((a, 900.0), (c, 100.0), (b, 40.0)):
        PersonScore.objects.create(person=person, expected_value=value, scored_at=_day(20))


def test_costs_roi_ltv_and_lead_value_by_channel():
    # given
    _history()
    # when
    report = economics_report_get(by="channel", model="linear", as_of=AS_OF)
    # then cost per stage = spend ÷ people reaching it
    costs = {r["key"]: r for r in report["costs"]}
    assert {k: (r["spend"], r["leads"], r["mqls"], r["sqls"], r["customers"]) for k, r in costs.items()} == {
        "email": (310.0, 2, 1, 1, 1),
        "events": (100.0, 1, 1, 0, 0),
    }
    assert [costs["email"][c] for c in ("cost_per_lead", "cost_per_mql", "cost_per_sql", "cac")] == [155.0, 310.0, 310.0, 310.0]
    assert [costs["events"][c] for c in ("cost_per_lead", "cost_per_mql", "cost_per_sql", "cac")] == [100.0, 100.0, None, None]
    # ROI: email earned the one first won deal (1,000) on 310; events nothing on 100
    roi = {r["key"]: r for r in report["roi"]}
    assert roi["email"]["revenue"] == 1000.0 and roi["email"]["roi"] == pytest.approx((1000 - 310) / 310, abs=1e-4)
    assert roi["events"]["roi"] == -1.0
    # LTV: one customer (account X), cohort March; month 0 brings 1,000, month 2 (May) 500
    ltv = report["ltv"]
    assert (ltv["customers"], ltv["purchases"], ltv["repeat_customers"], ltv["average_value"]) == (1, 2, 1, 750.0)
    assert ltv["months_observed"] == 4
    assert [r["revenue_per_customer"] for r in ltv["retention"]] == [1000.0, 0.0, 500.0, 0.0]
    assert ltv["cohorts"] == [{"cohort": "2025-03", "customers": 1, "revenue": 1500.0, "retention": [1.0, 0.0, 1.0, 0.0]}]
    totals = report["totals"]
    assert (totals["spend"], totals["ltv"], totals["cac_new_customer"]) == (410.0, 1500.0, 410.0)
    assert totals["ltv_to_cac"] == pytest.approx(1500 / 410)
    assert totals["payback_months"] == pytest.approx(0.41)
    email = next(r for r in ltv["rows"] if r["key"] == "email")
    assert (email["cac"], email["ltv_to_cac"], email["payback_months"]) == (310.0, pytest.approx(1500 / 310), pytest.approx(0.31))
    # lead value: attributed revenue ÷ leads, and the mean scored expected value of the leads
    value = {r["key"]: r for r in report["lead_value"]}
    assert (value["email"]["value_per_lead"], value["email"]["expected_value"], value["email"]["scored"]) == (500.0, 500.0, 2)
    assert (value["events"]["value_per_lead"], value["events"]["expected_value"]) == (0.0, 40.0)


def test_a_period_keeps_the_spend_of_its_days_and_the_stages_reached_in_it():
    # given 10–19 March: ten days of each campaign; a became a customer on 11 March, b a lead and MQL
    _history()
    # when
    report = economics_report_get(by="channel", date_from=dt.date(2025, 3, 10), date_to=dt.date(2025, 3, 19), as_of=AS_OF)
    # then
    costs = {r["key"]: r for r in report["costs"]}
    assert (costs["email"]["spend"], costs["email"]["leads"], costs["email"]["cac"]) == (100.0, 0, 100.0)
    assert (costs["events"]["spend"], costs["events"]["leads"], costs["events"]["mqls"]) == (100.0, 1, 1)
    assert report["ltv"]["customers"] == 1  # X's first purchase (11 March) falls in the period


def test_by_campaign_keys_spend_and_revenue_by_campaign_name():
    # given
    _history()
    # when
    report = economics_report_get(by="campaign", model="first_touch", as_of=AS_OF)
    # then
    assert {r["key"]: (r["spend"], r["revenue"]) for r in report["roi"]} == {"Spring mail": (310.0, 1000.0), "Expo": (100.0, 0.0)}


def test_bad_options_are_refused_naming_the_field():
    # given
    _history()
    # when / then
    for options, field in (({"by": "planet"}, "by"), ({"model": "magic"}, "model"), ({"horizon": 0}, "horizon"),
                           ({"margin": 0.0}, "margin"), ({"segment": "planet"}, "segment")):
        with pytest.raises(Exception) as err:
            economics_report_get(**options)
        assert getattr(err.value, "field", None) == field


def test_ltv_report_get_without_attribution():
    # given
    _history()
    # when
    report = ltv_report_get(by="channel", margin=0.5, as_of=AS_OF)
    # then half of 1,500; CAC per new customer 410
    assert report["ltv"] == 750.0 and report["cac"] == 410.0
    assert report["payback_months"] == pytest.approx(410 / 500)


def test_a_customer_keeps_the_source_of_its_first_purchase_and_account_segments_carry_no_spend():
    # given a second buyer at account X, from events, buying for 200 in April
    _history()
    account = StageChange.objects.first().person.account
    d = PersonFactory(original_channel="events", account=account)
    DealFactory(person=d, account=account, stage="won", amount=Decimal("200.00"),
                closed_at=dt.datetime(2025, 4, 15, 12, tzinfo=dt.UTC))
    # when
    by_source = ltv_report_get(by="channel", as_of=AS_OF)
    by_industry = ltv_report_get(by="channel", segment="industry", as_of=AS_OF)
    # then X stays an email customer worth 1,700; per industry, LTV without spend or CAC
    rows = {r["key"]: r for r in by_source["rows"]}
    assert (rows["email"]["customers"], rows["email"]["ltv"]) == (1, 1700.0)
    assert (rows["events"]["customers"], rows["events"]["ltv"], rows["events"]["cac"]) == (0, None, None)
    assert by_industry["rows"] == [
        {"key": "software", "spend": None, "customers": 1, "repeat_rate": 1.0, "average_value": 1700 / 3,
         "ltv": 1700.0, "cac": None, "ltv_to_cac": None, "payback_months": None},
    ]
    assert by_industry["cac"] == 410.0  # the total CAC still divides all spend by all new customers


def test_economics_page_charts_tables_and_pinned_queries(client, django_assert_num_queries):
    # given a cold cache
    _history()
    client.force_login(UserFactory(role=Role.VIEWER))
    client.get("/")
    cache.clear()
    # when / then: session + user + the data version, then the report's own reads and the attribution report's
    # (its data version again, then its reads)
    with django_assert_num_queries(11):
        response = client.get("/reports/economics/")
    assert response.status_code == 200
    for marker in (b"costs-figure", b"roi-figure", b"ltv-figure", b"ltv-by-figure", b"lead-value-figure", b"cohort-table"):
        assert marker in response.content
    assert response.context["report"]["totals"]["spend"] == 410.0
    # warm: session, user and the data version
    with django_assert_num_queries(3):
        assert client.get("/reports/economics/").status_code == 200


def test_economics_csv_tables(client):
    # given
    _history()
    client.force_login(UserFactory(role=Role.MARKETING))
    # when
    costs = client.get("/reports/economics/?format=csv&table=costs").content.decode().splitlines()
    cohorts = client.get("/reports/economics/?format=csv&table=cohorts").content.decode().splitlines()
    industry = client.get("/reports/economics/?segment=industry&format=csv&table=ltv").content.decode().splitlines()
    page = client.get("/reports/economics/?segment=industry")
    # then
    assert costs[0] == "key,spend,leads,mqls,sqls,customers,cost_per_lead,cost_per_mql,cost_per_sql,cac"
    assert costs[1] == "email,310.0,2,1,1,1,155.0,310.0,310.0,310.0"
    assert costs[-1].startswith("total,410.0,3,2,1,1,")
    assert cohorts[1].startswith("2025-03,1,1500.0,1.0,0.0,1.0,")
    assert industry[1] == "software,,1,1.0,750.0,1500.0,,,"
    assert page.status_code == 200 and b"LTV by industry" in page.content


def test_economics_and_ltv_api(client):
    # given
    _history()
    client.force_login(UserFactory(role=Role.VIEWER))
    # when
    economics = client.get("/api/reports/economics?by=channel&model=last_touch")
    ltv = client.get("/api/reports/ltv?horizon=1")
    bad = client.get("/api/reports/economics?model=magic")
    # then
    assert economics.status_code == 200 and economics.json()["totals"]["spend"] == 410.0
    assert ltv.status_code == 200 and ltv.json()["ltv"] == 1000.0
    assert bad.status_code == 422 and bad.json()["field"] == "model"


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("report", *args, stdout=out)
    return out.getvalue()


def test_report_economics_and_ltv_commands():
    # given
    _history()
    # when
    report = json.loads(_run("economics", "--by", "channel", "--format", "json"))
    roi_csv = _run("economics", "--table", "roi", "--format", "csv").splitlines()
    table = _run("ltv", "--format", "table").splitlines()
    ltv_csv = _run("ltv", "--format", "csv", "--horizon", "2").splitlines()
    # then
    assert set(report) == {"by", "model", "date_from", "date_to", "as_of", "horizon", "margin", "totals", "costs", "roi",
                           "ltv", "lead_value"}
    assert roi_csv[:2] == ["key,spend,conversions,revenue,roi", "email,310.0,1.0,1000.0,2.2258"]
    assert table[0].startswith("1 customers, 2 purchases, average value 750.00, repeat rate 1.00, LTV 1,500.00")
    assert ltv_csv == [
        "month,customers,active,retention,revenue_per_customer,cumulative_value",
        "0,1,1,1.0,1000.0,1000.0",
        "1,1,0,0.0,0.0,1000.0",
    ]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_marketer_opens_unit_economics_and_sees_each_chart_beside_its_table(live_server, page):
    # given a marketer and the history (spend 410, one customer account worth 1,500)
    from tandem.users.roles import roles_sync
    from tandem.users.services import user_create

    roles_sync()
    user_create(username="mia", password=PASSWORD, role=Role.MARKETING, first_name="Mia", last_name="M")
    _history()
    browser_login(page, live_server.url, "mia")
    # when she opens the page and switches to per campaign
    page.goto(f"{live_server.url}/reports/economics/")
    page.wait_for_selector("[data-chart='costs-figure'] .main-svg")
    # then the totals, a drawn chart per table, and the costs table
    assert page.text_content("#total-spend") == "410"
    assert page.text_content("#total-ltv") == "1,500"
    for chart in ("costs-figure", "roi-figure", "ltv-figure", "ltv-by-figure", "lead-value-figure"):
        assert page.locator(f"[data-chart='{chart}'] .main-svg").count() >= 1
    assert page.text_content("#costs-table tbody tr:first-child td:first-child") == "email"
    page.select_option("select[name=by]", "campaign")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert page.text_content("#costs-table tbody tr:first-child td:first-child") == "Spring mail"
    assert "by=campaign" in page.url
