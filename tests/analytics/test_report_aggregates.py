"""Unit economics, the KPI dashboard and the weekly report grouped by the database give exactly what reading every
row into Python gave: checked on a random company against the per-row reference (the control charts' lead
cohorts, per-person reach times, per-deal purchases), with the edge cases (no costs, deals without people, blank
sources, timestamps on midnight, a site time zone other than UTC)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from django.test import override_settings
from django.utils import timezone

from tandem.analytics.dashboard.selectors import dashboard_get, kpi_data_load, weekly_report_get
from tandem.analytics.economics import selectors as econ
from tandem.analytics.statistics.selectors import lead_cohorts_load
from tandem.campaigns.models import Campaign, CampaignCost
from tandem.crm.models import Account, Deal, DealStage, Person, Pipeline, PipelineStage, StageChange
from tandem.scoring.models import PersonScore
from tandem.stats import economics
from tandem.stats.funnel import STAGES, reach_times
from tandem.stats.kpi import KpiInputs, kpi_actuals, ordinals, periods_until
from tandem.users.models import Role
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2026, 12, 7)
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
STAGE_ORDER = ("lead", "mql", "sal", "sql", "opportunity", "customer")


def _moment(rng: np.random.Generator) -> dt.datetime:
    """A random moment in 2025-2026; one in four exactly on a UTC midnight, one in eight a breath before it."""
    day = START + dt.timedelta(days=int(rng.integers(0, 700)))
    pick = rng.random()
    if pick < 0.25:
        return day
    if pick < 0.375:
        return day - dt.timedelta(microseconds=500_000)
    return day + dt.timedelta(seconds=int(rng.integers(0, 86400)))


def _company(seed: int = 7, people: int = 90, deals: int = 50, costs: bool = True) -> None:
    """A random company: blank and missing sources, stages reached out of order, recycles, people standing at a
    stage with no change, won deals of subscribers, deals without a person or without a close, repeat buyers."""
    rng = np.random.default_rng(seed)
    accounts = Account.objects.bulk_create(
        Account(name=f"A{i}", created_at=START, industry=ind, size_band="11-50" if i % 2 else "", country="DE" if i % 3 else "")
        for i, ind in enumerate(("software", "retail", "", "health"))
    )
    campaigns = Campaign.objects.bulk_create(
        Campaign(name=name, channel=ch, created_at=START) for name, ch in (("Spring mail", "email"), ("Expo", "events"), ("Webinar X", "webinar"))
    )
    if costs:
        CampaignCost.objects.bulk_create(
            CampaignCost(campaign=campaigns[i % 3], spent_on=dt.date(2025, 1, 1) + dt.timedelta(days=int(rng.integers(0, 700))),
                         amount=Decimal(int(rng.integers(10, 900))), entered_at=START)
            for i in range(12)
        )
    rows = []
    for i in range(people):
        rows.append(Person(
            email=f"p{i}@example.com", email_normalized=f"p{i}@example.com",
            original_channel=str(rng.choice(["email", "events", "", "webinar"])),
            original_campaign=campaigns[int(rng.integers(0, 3))] if rng.random() < 0.6 else None,
            account=accounts[int(rng.integers(0, 4))] if rng.random() < 0.5 else None,
            lifecycle_stage=str(rng.choice(["subscriber", "lead", "mql", "customer", "recycled"])),
            created_at=_moment(rng),
        ))
    everyone = Person.objects.bulk_create(rows)
    changes = []
    for person in everyone:
        for stage in (*STAGE_ORDER, "recycled", "disqualified"):
            if rng.random() < 0.35:  # stages skipped and reached in any order: reach is the earliest of the later
                changes.append(StageChange(person=person, to_stage=stage, changed_at=_moment(rng)))
    StageChange.objects.bulk_create(changes)
    PersonScore.objects.bulk_create(
        PersonScore(person=p, expected_value=None if rng.random() < 0.3 else float(rng.integers(0, 5000)) / 4,
                    scored_at=START)
        for p in everyone if rng.random() < 0.7
    )
    pipeline = Pipeline.objects.get(is_default=True)
    stage_of = {k: PipelineStage.objects.filter(pipeline=pipeline, kind=k).order_by("position").first() for k in ("open", "won", "lost")}
    made = []
    for _ in range(deals):
        kind = str(rng.choice(["won", "won", "lost", "open"]))
        closed = None if kind == "open" or rng.random() < 0.1 else _moment(rng)
        made.append(Deal(
            name="d", person=everyone[int(rng.integers(0, people))] if rng.random() < 0.8 else None,
            account=accounts[int(rng.integers(0, 4))] if rng.random() < 0.4 else None,
            amount=Decimal(int(rng.integers(1, 20_000))), stage=kind, pipeline=pipeline, pipeline_stage=stage_of[kind],
            created_at=_moment(rng), closed_at=closed,
        ))
    Deal.objects.bulk_create(made)


# ---- the per-row references: what the selectors computed before the database grouped it ----


def _reference_stage_counts(by: str, date_from: dt.date | None, date_to: dt.date | None) -> tuple[dict[str, list[int]], dict[str, tuple[float, int]]]:
    rows = list(StageChange.objects.filter(to_stage__in=STAGES).values_list("person_id", "to_stage", "changed_at"))
    ids = sorted({r[0] for r in rows})
    index = {pid: i for i, pid in enumerate(ids)}
    reached = reach_times(person=[index[r[0]] for r in rows], to_stage=[r[1] for r in rows],
                          times=[r[2].timestamp() for r in rows], n_people=len(ids))
    source = {pid: (ch or econ.UNKNOWN, camp or econ.NO_CAMPAIGN)
              for pid, ch, camp in Person.objects.values_list("id", "original_channel", "original_campaign__name")}
    groups = [source[pid][0 if by == "channel" else 1] for pid in ids]
    low, high = econ._day_bounds(date_from, date_to)
    stages = [STAGES.index(s) for s in economics.COST_STAGES]
    counts = economics.stage_counts(reached=reached, stage_index=stages, groups=groups, low=low, high=high)
    lead = reached[:, 0]
    leads = {pid for pid, ok in zip(ids, (~np.isnan(lead) & (lead >= low) & (lead < high)).tolist(), strict=True) if ok}
    expected: dict[str, tuple[float, int]] = {}
    for pid, value in PersonScore.objects.filter(expected_value__isnull=False).values_list("person_id", "expected_value"):
        if pid in leads and value is not None:
            key = source[pid][0 if by == "channel" else 1]
            total, n = expected.get(key, (0.0, 0))
            expected[key] = (total + value, n + 1)
    return counts, expected


def _reference_purchases(by: str, segment: str) -> tuple[list[int], list[int], list[float], list[str]]:
    people = {pid: (ch or econ.UNKNOWN, camp or econ.NO_CAMPAIGN, acc) for pid, ch, camp, acc in
              Person.objects.values_list("id", "original_channel", "original_campaign__name", "account_id")}
    accounts = {} if segment == "source" else {
        aid: str(v or econ.UNKNOWN) for aid, v in Account.objects.values_list("id", econ.ACCOUNT_SEGMENTS[segment])}
    out: tuple[list[int], list[int], list[float], list[str]] = ([], [], [], [])
    group_of: dict[int, str] = {}
    for deal_id, pid, account, amount, closed in (
        Deal.objects.filter(stage=DealStage.WON, closed_at__isnull=False).order_by("closed_at", "id")
        .values_list("id", "person_id", "account_id", "amount", "closed_at")
    ):
        if closed is None:
            continue
        person = people.get(pid) if pid is not None else None
        buyer = account or (person[2] if person else None)
        customer = buyer if buyer else (-pid if pid else -(10**12) - deal_id)
        if customer not in group_of:
            if segment == "source":
                group_of[customer] = (person[0] if by == "channel" else person[1]) if person else (
                    econ.UNKNOWN if by == "channel" else econ.NO_CAMPAIGN)
            else:
                group_of[customer] = accounts.get(buyer or 0, econ.UNKNOWN)
        out[0].append(customer)
        out[1].append((closed.astimezone(dt.UTC).date() - econ.EPOCH).days)
        out[2].append(float(amount))
        out[3].append(group_of[customer])
    return out


def _reference_inputs() -> tuple[KpiInputs, Any]:
    cohorts = lead_cohorts_load()
    deals = list(Deal.objects.values_list("created_at", "closed_at", "stage", "amount"))

    def day(moment: dt.datetime | None) -> dt.date | None:
        return None if moment is None else timezone.localdate(moment)

    stages = np.array([d[2] for d in deals], dtype=object)
    inputs = KpiInputs(
        mql_days=ordinals(cohorts.mql_day), sql_days=ordinals(cohorts.sql_day),
        deal_created=ordinals([day(d[0]) for d in deals]), deal_closed=ordinals([day(d[1]) for d in deals]),
        deal_won=stages == "won" if deals else np.zeros(0, dtype=bool),
        deal_lost=stages == "lost" if deals else np.zeros(0, dtype=bool),
        deal_amount=np.array([float(d[3]) for d in deals]), customer_days=ordinals(cohorts.won_day),
        campaign_starts=np.zeros(0, dtype=np.int64), campaign_ends=np.zeros(0, dtype=np.int64),
        campaign_costs=np.zeros(0),
    )
    return inputs, cohorts


def _edges() -> list[list[dt.date]]:
    weeks = [dt.date(2024, 12, 30) + dt.timedelta(weeks=k) for k in range(110)]
    months = periods_until(AS_OF, "month", 26)
    return [weeks, [*months, dt.date(2027, 1, 1)], [*periods_until(AS_OF, "quarter", 9), dt.date(2027, 1, 1)]]


# ---- unit economics ----


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("by", ["channel", "campaign"])
def test_stage_counts_and_lead_values_match_per_person_reach(seed, by, django_assert_num_queries):
    # given
    _company(seed=seed)
    for date_from, date_to in ((None, None), (dt.date(2025, 6, 1), dt.date(2026, 1, 31)), (dt.date(2026, 3, 1), None), (None, dt.date(2025, 9, 30))):
        expected_counts, expected_values = _reference_stage_counts(by, date_from, date_to)
        # when: one query
        with django_assert_num_queries(1):
            counts, values = econ._stage_counts(by=by, date_from=date_from, date_to=date_to)
        # then the same people per group and stage (zero rows included), and the same lead values
        assert counts == expected_counts
        assert {k: (pytest.approx(t, rel=1e-12), n) for k, (t, n) in values.items()} == expected_values


@pytest.mark.parametrize("by", ["channel", "campaign"])
@pytest.mark.parametrize("segment", econ.LTV_SEGMENTS)
def test_purchases_match_the_per_deal_reading(by, segment, django_assert_num_queries):
    # given
    _company(seed=11, deals=80)
    expected = _reference_purchases(by, segment)
    # when: one query over the won deals
    with django_assert_num_queries(1):
        customers, days, values, groups = econ._purchases(by=by, segment=segment)
    # then
    assert (customers.tolist(), days.tolist(), values.tolist(), groups) == expected


def test_economics_report_without_costs_or_people_behind_deals(django_assert_num_queries, monkeypatch):
    # given no campaign costs, and the attribution report (its own selector) answering nothing
    _company(seed=5, costs=False)
    monkeypatch.setattr(econ, "report_cached", lambda kind, **params: {"rows": [], "total_revenue": 0.0})
    counts, _ = _reference_stage_counts("channel", None, None)
    # when: spend, stage counts with lead values, won deals
    with django_assert_num_queries(3):
        report = econ.economics_report_get(as_of=AS_OF)
    # then every group has its people and no spend, and the total is theirs
    assert {r["key"]: [r["leads"], r["mqls"], r["sqls"], r["customers"]] for r in report["costs"]} == counts
    assert report["totals"]["spend"] == 0.0 and report["totals"]["leads"] == sum(c[0] for c in counts.values())


# ---- the KPI dashboard and the weekly report ----


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York"])
def test_dashboard_data_match_the_lead_cohorts_and_the_deals(seed, zone, django_assert_num_queries):
    with override_settings(TIME_ZONE=zone):
        # given
        _company(seed=seed, deals=70)
        reference, cohorts = _reference_inputs()
        # when: leads per channel and day, deals per day, campaign costs
        with django_assert_num_queries(3):
            data = kpi_data_load(as_of=AS_OF)
        # then every KPI in every week, month and quarter is the same (whole-dollar amounts: sums are exact)
        inputs = data.inputs
        for edges in _edges():
            got, want = kpi_actuals(inputs, edges), kpi_actuals(reference, edges)
            for field in ("mqls", "sqls", "pipeline", "revenue", "won", "closed", "customers"):
                assert getattr(got, field) == getattr(want, field), (zone, field)
        # and the weekly report's leads and MQLs per channel
        channels = np.array(cohorts.channel, dtype=object)
        assert sorted(data.leads) == sorted(set(cohorts.channel))
        for ch, (days, counts) in data.leads.items():
            want_days = ordinals(cohorts.lead_day)[channels == ch]
            assert sorted(np.repeat(days, counts.astype(int)).tolist()) == sorted(want_days.tolist())
            mql = ordinals(cohorts.mql_day)[channels == ch]
            got_days, got_counts = data.mqls.get(ch, (np.zeros(0), np.zeros(0)))
            assert sorted(np.repeat(got_days, got_counts.astype(int)).tolist()) == sorted(mql[~np.isnan(mql)].tolist())


def test_dashboard_and_weekly_report_on_an_empty_company(django_assert_num_queries):
    # when
    with django_assert_num_queries(3):
        data = kpi_data_load(as_of=AS_OF)
    dashboard = dashboard_get(as_of=AS_OF, data=data)
    weekly = weekly_report_get(today=AS_OF, now=dt.datetime(2026, 12, 7, 12, tzinfo=dt.UTC), data=data)
    # then nothing is counted, and nothing breaks
    assert data.leads == {} and data.inputs.mql_days.size == 0
    assert [k["current"]["actual"] for k in dashboard["kpis"]] == [0.0, 0.0, 0.0, 0.0, None, None]
    assert weekly["came_in"]["by_channel"] == [] and weekly["came_in"]["leads"]["this_week"] == 0.0


def test_weekly_numbers_are_the_company_s_and_top_wins_the_reader_s():
    # given two reps' won deals in the report's week
    ray: Any = UserFactory(username="ray", role=Role.SALES_REP)
    kim: Any = UserFactory(username="kim", role=Role.SALES_REP)
    _company(seed=3, deals=0)
    pipeline = Pipeline.objects.get(is_default=True)
    won = PipelineStage.objects.filter(pipeline=pipeline, kind="won").first()
    assert won is not None
    monday = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)
    for owner, amount in ((ray, 500), (kim, 900)):
        Deal.objects.create(name=f"{owner.username}'s", owner=owner, amount=Decimal(amount), stage="won", pipeline=pipeline,
                            pipeline_stage=won, created_at=monday, closed_at=monday)
    data = kpi_data_load(as_of=AS_OF)
    # when
    for_ray = weekly_report_get(week=monday.date(), today=AS_OF, now=monday, data=data, user=ray)
    for_all = weekly_report_get(week=monday.date(), today=AS_OF, now=monday, data=data)
    # then both see the company's revenue; the rep's top wins are the deals he may see
    assert for_ray["converted"]["revenue"]["this_week"] == for_all["converted"]["revenue"]["this_week"] == 1400.0
    assert [w["deal"] for w in for_all["top_wins"]] == ["kim's", "ray's"]
    assert [w["deal"] for w in for_ray["top_wins"]] == ["ray's"]
