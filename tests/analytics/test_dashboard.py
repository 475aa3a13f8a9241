"""KPI dashboard: period arithmetic, actuals on a hand-made history, versioned goals, signals, page and API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.core.cache import cache

from tandem.analytics.dashboard.models import Goal
from tandem.analytics.dashboard.selectors import dashboard_get, kpi_data_load
from tandem.analytics.dashboard.services import goal_set
from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import StageChange
from tandem.stats.kpi import (
    KpiInputs,
    goal_status,
    kpi_actuals,
    period_end,
    period_label,
    period_next,
    period_start,
    periods_until,
    weekly_check,
)
from tandem.users.models import Role
from tests.campaigns.factories import CampaignFactory
from tests.crm.factories import DealFactory, PersonFactory
from tests.users.factories import UserFactory

AS_OF = dt.date(2026, 11, 16)


@pytest.fixture(autouse=True)
def _empty_data_cache():
    cache.clear()
    yield
    cache.clear()


def _at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=12, tzinfo=dt.UTC)


def _history() -> None:
    """A: lead 10-05, MQL 10-20, SQL 11-03; B: lead 11-02, MQL 11-04; C: lead 11-02, MQL 11-05, SQL 11-10,
    customer 11-12. Deals: C won 1,000 (created 11-06, closed 11-12); A lost 3,000 (created 10-25, closed
    11-09); B open 500 (created 11-08); A won 2,000 (created 09-10, closed 10-15). One campaign costing 3,000
    from 10-17 to 11-15 (30 days: 1,500 in October, 1,500 in November)."""
    a, b, c = PersonFactory(), PersonFactory(), PersonFactory()
    StageChange.objects.all().delete()
    for person, stage, day in (
        (a, "lead", "2026-10-05"), (a, "mql", "2026-10-20"), (a, "sql", "2026-11-03"),
        (b, "lead", "2026-11-02"), (b, "mql", "2026-11-04"),
        (c, "lead", "2026-11-02"), (c, "mql", "2026-11-05"), (c, "sql", "2026-11-10"), (c, "customer", "2026-11-12"),
    ):
        StageChange.objects.create(person=person, to_stage=stage, changed_at=_at(day))
    DealFactory(person=c, stage="won", amount=Decimal("1000"), created_at=_at("2026-11-06"), closed_at=_at("2026-11-12"))
    DealFactory(person=a, stage="lost", amount=Decimal("3000"), created_at=_at("2026-10-25"), closed_at=_at("2026-11-09"))
    DealFactory(person=b, stage="open", amount=Decimal("500"), created_at=_at("2026-11-08"))
    DealFactory(person=a, stage="won", amount=Decimal("2000"), created_at=_at("2026-09-10"), closed_at=_at("2026-10-15"))
    CampaignFactory(started_on=dt.date(2026, 10, 17), ended_on=dt.date(2026, 11, 15), actual_cost=Decimal("3000"))


# ------------------------------------------------------------------------------------------------- pure


def test_periods_months_and_quarters():
    # given / when / then
    assert period_start(dt.date(2026, 11, 16), "quarter") == dt.date(2026, 10, 1)
    assert period_start(dt.date(2026, 3, 31), "quarter") == dt.date(2026, 1, 1)
    assert period_next(dt.date(2026, 12, 1), "month") == dt.date(2027, 1, 1)
    assert period_next(dt.date(2026, 10, 1), "quarter") == dt.date(2027, 1, 1)
    assert period_end(dt.date(2028, 2, 1), "month") == dt.date(2028, 2, 29)
    assert period_label(dt.date(2026, 10, 1), "quarter") == "Q4 2026"
    assert period_label(dt.date(2026, 11, 1), "month") == "Nov 2026"
    assert periods_until(dt.date(2026, 2, 3), "month", 3) == [dt.date(2025, 12, 1), dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    with pytest.raises(ValidationFailed) as err:
        period_start(dt.date(2026, 1, 1), "year")
    assert err.value.field == "period"


def test_spend_is_spread_evenly_over_the_campaign_days():
    # given a 10-day campaign (Jan 27 – Feb 5: 5 days in each month) costing 1,000 and a one-day one on Feb 2
    # costing 70
    day = dt.date.toordinal
    inputs = KpiInputs(
        *(np.zeros(0) for _ in range(4)),
        deal_won=np.zeros(0, dtype=bool),
        deal_lost=np.zeros(0, dtype=bool),
        deal_amount=np.zeros(0),
        customer_days=np.array([float(day(dt.date(2026, 2, 10)))]),
        campaign_starts=np.array([day(dt.date(2026, 1, 27)), day(dt.date(2026, 2, 2))]),
        campaign_ends=np.array([day(dt.date(2026, 2, 5)), day(dt.date(2026, 2, 2))]),
        campaign_costs=np.array([1000.0, 70.0]),
    )
    # when
    actual = kpi_actuals(inputs, [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)])
    # then CAC = spend ÷ new customers (none in January)
    assert actual.spend == [500.0, 570.0]
    assert actual.cac == [None, 570.0]


def test_goal_status_for_totals_and_rates():
    # given / when / then: a total is judged against the goal's share of the days elapsed
    assert goal_status(metric="mqls", actual=2, goal=4, fraction_elapsed=16 / 30) == "behind"
    assert goal_status(metric="mqls", actual=3, goal=4, fraction_elapsed=16 / 30) == "on_pace"
    assert goal_status(metric="mqls", actual=4, goal=4, fraction_elapsed=0.1) == "met"
    assert goal_status(metric="revenue", actual=2000, goal=2500, fraction_elapsed=1.0) == "missed"
    # rates as they stand; CAC must stay at or under its goal
    assert goal_status(metric="cac", actual=1500, goal=2000, fraction_elapsed=0.5) == "on_pace"
    assert goal_status(metric="cac", actual=2500, goal=2000, fraction_elapsed=1.0) == "missed"
    assert goal_status(metric="win_rate", actual=0.5, goal=0.4, fraction_elapsed=1.0) == "met"
    assert goal_status(metric="win_rate", actual=None, goal=0.4, fraction_elapsed=1.0) is None
    assert goal_status(metric="sqls", actual=5, goal=None, fraction_elapsed=1.0) is None


def test_weekly_check_calls_a_spike_a_signal_and_a_wobble_normal_variation():
    # given 20 ordinary weeks alternating 10 and 12 (centre 11, MR̄ 2, σ = 2/1.128, limits 5.68–16.32),
    # then a last complete week of 30 (or of 13), and the running week
    starts = [dt.date(2026, 1, 5) + dt.timedelta(weeks=i) for i in range(22)]
    base = [10.0, 12.0] * 10
    as_of = starts[-1] + dt.timedelta(days=2)
    # when
    spike = weekly_check(key="mqls", label="weekly MQLs", starts=starts, values=[*base, 30.0, 1.0], as_of=as_of)
    wobble = weekly_check(key="mqls", label="weekly MQLs", starts=starts, values=[*base, 13.0, 1.0], as_of=as_of)
    # then the running week is left out; the latest complete week is judged
    assert spike.latest_start == wobble.latest_start == starts[-2]
    assert spike.is_signal is True and "above its normal range" in spike.text
    assert wobble.is_signal is False and "within normal variation" in wobble.text
    assert spike.text.endswith("This week is still running and is not judged yet.")
    assert wobble.center == pytest.approx(11.0)
    ucl = wobble.chart.points[-2].ucl
    assert ucl == pytest.approx(11 + 3 * 2 / 1.128)


# ------------------------------------------------------------------------------------------- database


@pytest.mark.django_db
def test_actuals_per_month_from_the_history():
    # given
    _history()
    edges = [dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)]
    # when
    actual = kpi_actuals(kpi_data_load().inputs, edges)
    # then October, November
    assert actual.mqls == [1.0, 2.0]
    assert actual.sqls == [0.0, 2.0]
    assert actual.pipeline == [3000.0, 1500.0]
    assert actual.revenue == [2000.0, 1000.0]
    assert actual.win_rate == [1.0, 0.5]
    assert actual.spend == [1500.0, 1500.0]
    assert actual.customers == [1.0, 1.0]
    assert actual.cac == [1500.0, 1500.0]


@pytest.mark.django_db
def test_goal_set_versions_each_change_and_records_an_event():
    # given
    boss = UserFactory(role=Role.SALES_MANAGER)
    # when a goal is set (any day of the month names the month), changed, set again unchanged, and cleared
    first = goal_set(metric="mqls", period="month", period_start_on=dt.date(2026, 11, 16), target=400, actor=boss, reason="QBR")
    second = goal_set(metric="mqls", period="month", period_start_on=dt.date(2026, 11, 1), target="450", actor=boss)
    same = goal_set(metric="mqls", period="month", period_start_on=dt.date(2026, 11, 1), target=450, actor=boss)
    cleared = goal_set(metric="mqls", period="month", period_start_on=dt.date(2026, 11, 1), target=None, actor=boss)
    # then
    assert (first.period_start, first.version, first.target) == (dt.date(2026, 11, 1), 1, Decimal("400"))
    assert (second.version, second.target) == (2, Decimal("450"))
    assert same.pk == second.pk
    assert (cleared.version, cleared.target, cleared.is_current) == (3, None, True)
    assert list(Goal.objects.filter(metric="mqls").order_by("version").values_list("version", "is_current")) == [
        (1, False), (2, False), (3, True)
    ]
    kinds = list(Event.objects.filter(subject_type="analytics.goal").order_by("id").values_list("kind", flat=True))
    assert kinds == ["goal.set", "goal.set", "goal.cleared"]
    assert Event.objects.filter(kind="goal.set", subject_id=second.pk).get().data["previous"] == "400.0000"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("metric", "period", "target", "field"),
    [
        ("mqls", "month", -1, "target"),
        ("win_rate", "month", "1.5", "target"),
        ("win_rate", "month", "abc", "target"),
        ("nps", "month", 10, "metric"),
        ("mqls", "week", 10, "period"),
        ("sqls", "month", None, "target"),  # nothing to clear
    ],
)
def test_goal_set_refuses_bad_input_and_writes_nothing(metric, period, target, field):
    # given
    goal_set(metric="mqls", period="month", period_start_on=dt.date(2026, 11, 1), target=400)
    before = (Goal.objects.count(), Event.objects.count())
    # when
    with pytest.raises(ValidationFailed) as err:
        goal_set(metric=metric, period=period, period_start_on=dt.date(2026, 11, 1), target=target)
    # then
    assert err.value.field == field
    assert (Goal.objects.count(), Event.objects.count()) == before
    assert Goal.objects.get(is_current=True).target == Decimal("400")


@pytest.mark.django_db
def test_dashboard_shows_goals_against_actuals():
    # given the history and four goals
    _history()
    goal_set(metric="mqls", period="month", period_start_on=dt.date(2026, 11, 1), target=4)
    goal_set(metric="cac", period="month", period_start_on=dt.date(2026, 11, 1), target=2000)
    goal_set(metric="win_rate", period="month", period_start_on=dt.date(2026, 11, 1), target="0.4")
    goal_set(metric="revenue", period="month", period_start_on=dt.date(2026, 10, 1), target=2500)
    # when
    report = dashboard_get(period="month", as_of=AS_OF, count=2)
    kpis = {k["metric"]: k for k in report["kpis"]}
    # then November is 16/30 elapsed: 2 MQLs of 4 is behind the pace of 2.13
    assert [p["label"] for p in report["periods"]] == ["Oct 2026", "Nov 2026"]
    mqls = kpis["mqls"]["current"]
    assert (mqls["actual"], mqls["goal"], mqls["progress"], mqls["status"]) == (2.0, 4.0, 0.5, "behind")
    assert mqls["expected_to_date"] == pytest.approx(4 * 16 / 30)
    assert kpis["mqls"]["status_text"] == "behind pace"
    assert (kpis["cac"]["current"]["actual"], kpis["cac"]["current"]["status"]) == (1500.0, "on_pace")
    assert (kpis["win_rate"]["current"]["won"], kpis["win_rate"]["current"]["closed"]) == (1.0, 2.0)
    assert kpis["win_rate"]["current"]["status"] == "on_pace"
    october_revenue = kpis["revenue"]["series"][0]
    assert (october_revenue["actual"], october_revenue["goal"], october_revenue["status"]) == (2000.0, 2500.0, "missed")
    assert kpis["sqls"]["current"]["goal"] is None and kpis["sqls"]["status_text"] == "no goal set"
    assert kpis["mqls"]["related_charts"][1]["url"] == "/statistics/?metric=mql_rate&by=all&period=week"
    assert kpis["cac"]["signal"] is None
    assert len(kpis["mqls"]["signal"]["points"]) == 26


# ------------------------------------------------------------------------------------------ page and API


@pytest.mark.django_db
def test_dashboard_page_with_pinned_queries(client, django_assert_num_queries):
    # given
    _history()
    goal_set(metric="mqls", period="month", period_start_on=dt.date.today(), target=4)
    client.force_login(UserFactory(role=Role.VIEWER))
    # when: session, user, the data version, lead days, deals, campaigns, goals in force, history
    with django_assert_num_queries(8):
        response = client.get("/reports/dashboard/")
    # and again: the data are kept until the data version changes (session, user, version, goals, history)
    with django_assert_num_queries(5):
        again = client.get("/reports/dashboard/")
    # then every KPI has a tile, a chart, a table and a signal sentence; a viewer cannot set goals
    html = response.content.decode()
    assert response.status_code == 200 and again.content.decode().split("<main")[1] == html.split("<main")[1]
    for metric in ("mqls", "sqls", "pipeline", "revenue", "cac", "win_rate"):
        assert f'data-testid="tile-{metric}"' in html and f'id="bars-{metric}"' in html
    assert html.count('data-testid="signal-text"') == 6
    assert 'data-testid="goal-form"' not in html
    assert "/statistics/?metric=sql_rate&amp;by=all&amp;period=week" in html


@pytest.mark.django_db
def test_goal_form_sets_a_goal_for_marketing_and_refuses_a_rep(client):
    # given
    marketer, rep = UserFactory(role=Role.MARKETING), UserFactory(role=Role.SALES_REP)
    form = {"metric": "win_rate", "period": "quarter", "period_start": "2026-10-01", "target": "32.5", "reason": "QBR"}
    # when a rep tries
    client.force_login(rep)
    refused = client.post("/reports/dashboard/goals/", form)
    # then nothing changed
    assert refused.status_code == 403 and Goal.objects.count() == 0
    # when marketing sets it (the form takes a percentage)
    client.force_login(marketer)
    response = client.post("/reports/dashboard/goals/", form, follow=True)
    # then
    goal = Goal.objects.get()
    assert (goal.metric, goal.period, goal.period_start, goal.target, goal.set_by) == (
        "win_rate", "quarter", dt.date(2026, 10, 1), Decimal("0.3250"), marketer
    )
    assert "Win rate goal for Q4 2026 set to 32.5% (version 1)." in response.content.decode()


@pytest.mark.django_db
def test_goal_form_names_the_bad_field(client):
    # given
    client.force_login(UserFactory(role=Role.ADMIN))
    # when
    response = client.post(
        "/reports/dashboard/goals/", {"metric": "mqls", "period": "month", "period_start": "2026-11-01", "target": "-3"}, follow=True
    )
    # then
    assert "target: target must be a number of 0 or more" in response.content.decode()
    assert Goal.objects.count() == 0


@pytest.mark.django_db
def test_goals_api_sets_lists_and_refuses(client):
    # given
    client.force_login(UserFactory(role=Role.SALES_MANAGER))
    # when
    created = client.post(
        "/api/goals", {"metric": "revenue", "period": "month", "period_start": "2026-11-05", "target": 120000, "reason": "plan"}, content_type="application/json"
    )
    bad = client.post("/api/goals", {"metric": "revenue", "period": "week", "period_start": "2026-11-05", "target": 1}, content_type="application/json")
    listed = client.get("/api/goals?metric=revenue")
    board = client.get("/api/dashboard?period=quarter&as_of=2026-11-16")
    # then
    assert created.status_code == 201
    assert {k: created.json()[k] for k in ("metric", "period_start", "target", "version", "is_current")} == {
        "metric": "revenue", "period_start": "2026-11-01", "target": 120000.0, "version": 1, "is_current": True
    }
    assert bad.status_code == 422 and bad.json()["field"] == "period"
    assert [g["target"] for g in listed.json()["items"]] == [120000.0]
    assert (listed.json()["next_cursor"], listed.json()["prev_cursor"]) == (None, None)
    assert [p["label"] for p in board.json()["periods"]] == ["Q1 2026", "Q2 2026", "Q3 2026", "Q4 2026"]
    # when a rep tries
    client.force_login(UserFactory(role=Role.SALES_REP))
    refused = client.post("/api/goals", {"metric": "mqls", "period": "month", "period_start": "2026-11-01", "target": 1}, content_type="application/json")
    # then
    assert refused.status_code == 403 and Goal.objects.count() == 1


@pytest.mark.django_db
def test_dashboard_csv_has_a_row_per_kpi_and_period(client):
    # given
    _history()
    goal_set(metric="sqls", period="quarter", period_start_on=dt.date.today(), target=10)
    client.force_login(UserFactory(role=Role.VIEWER))
    # when
    response = client.get("/reports/dashboard/?period=quarter&format=csv")
    # then 6 KPIs × 4 quarters, the current quarter's SQL goal in its row
    lines = response.content.decode().splitlines()
    assert response["Content-Type"] == "text/csv"
    assert lines[0] == "metric,start,label,actual,goal,goal_version,progress,status,expected_to_date"
    assert len(lines) == 1 + 6 * 4
    sql_rows = [line.split(",") for line in lines if line.startswith("sqls,")]
    assert sql_rows[-1][4:6] == ["10.0", "1"]


@pytest.mark.django_db
def test_dates_far_outside_the_calendar_are_refused_by_name(client):
    # given
    client.force_login(UserFactory(role=Role.ADMIN))
    # when
    board = client.get("/api/dashboard?as_of=0001-01-01")
    weekly = client.get("/api/reports/weekly?week=1000-01-06")
    goal = client.post("/api/goals", {"metric": "mqls", "period": "month", "period_start": "9999-12-01", "target": 1}, content_type="application/json")
    # then
    assert (board.status_code, board.json()["field"]) == (422, "as_of")
    assert (weekly.status_code, weekly.json()["field"]) == (422, "week")
    assert (goal.status_code, goal.json()["field"]) == (422, "period_start")
    assert Goal.objects.count() == 0
