"""Selectors and services of the statistics pages, on small hand-built data."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from decimal import Decimal
from pathlib import Path

import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint, proportions_ztest

from tandem.analytics.statistics.models import Experiment, ExperimentAssignment
from tandem.analytics.statistics.selectors import (
    experiment_analyse,
    lead_cohorts_load,
    segment_table,
    spc_chart,
)
from tandem.analytics.statistics.services import (
    experiment_create,
    experiment_import_csv,
    experiment_outcomes_from_crm,
)
from tandem.campaigns.models import Campaign
from tandem.core.errors import ValidationFailed
from tandem.crm.models import Person, StageChange
from tandem.stats import spc
from tests.crm.factories import AccountFactory, DealFactory, PersonFactory

pytestmark = pytest.mark.django_db
AS_OF = dt.date(2025, 3, 31)  # a Monday


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=10, tzinfo=dt.UTC)


def lead(day: str, channel: str = "paid_search", *, moves: dict[str, str] | None = None, **kw: object) -> Person:
    person = PersonFactory(created_at=at(day), original_channel=channel, **kw)
    previous = "lead"
    for stage, when in (moves or {}).items():
        StageChange.objects.create(person=person, from_stage=previous, to_stage=stage, changed_at=at(when))
        previous = stage
    return person


def build_funnel() -> None:
    # week of 03-03: 3 paid search leads (one goes all the way), week of 03-10: 2 (one MQL), 03-17: 1 email lead
    lead("2025-03-03", moves={"mql": "2025-03-05", "sql": "2025-03-12", "customer": "2025-03-20"})
    lead("2025-03-04", moves={"mql": "2025-03-06"})
    lead("2025-03-06")
    lead("2025-03-10", moves={"mql": "2025-03-11"})
    lead("2025-03-12")
    lead("2025-03-18", channel="email")
    PersonFactory(created_at=at("2025-03-19"), stage="subscriber")  # not a lead: never counted


def test_lead_cohorts_take_the_first_day_of_each_stage_and_skip_subscribers():
    # given
    build_funnel()
    # when
    cohorts = lead_cohorts_load()
    # then: 6 leads, the subscriber left out; the first lead reached MQL, SQL and won on its days
    assert len(cohorts.lead_day) == 6
    first = cohorts.lead_day.index(dt.date(2025, 3, 3))
    assert (cohorts.mql_day[first], cohorts.sql_day[first], cohorts.won_day[first]) == (
        dt.date(2025, 3, 5),
        dt.date(2025, 3, 12),
        dt.date(2025, 3, 20),
    )
    assert sorted(cohorts.channel) == ["email"] + ["paid_search"] * 5


def test_a_later_stage_counts_as_passing_the_earlier_ones():
    # given a lead that jumped straight to SQL
    lead("2025-03-03", moves={"sql": "2025-03-07"})
    # when
    cohorts = lead_cohorts_load()
    # then it counts as MQL and SQL the same day
    assert (cohorts.mql_day[0], cohorts.sql_day[0], cohorts.won_day[0]) == (dt.date(2025, 3, 7),) * 2 + (None,)


def test_weekly_volume_per_channel_counts_leads_per_week():
    # given
    build_funnel()
    # when
    chart = spc_chart(metric="volume", by="channel", period="week", as_of=AS_OF)
    # then: series ordered by volume; weeks from the first lead's Monday to as_of
    assert [s.key for s in chart.series] == ["paid_search", "email"]
    paid = chart.series[0]
    assert [p.start for p in paid.points] == [dt.date(2025, 3, d) for d in (3, 10, 17, 24, 31)]
    assert [p.value for p in paid.points] == [3.0, 2.0, 0.0, 0.0, 0.0]
    assert [p.value for p in chart.series[1].points] == [0.0, 0.0, 1.0, 0.0, 0.0]
    # the running week (03-31) is not complete: immature
    assert [p.mature for p in paid.points] == [True, True, True, True, False]


def test_mql_rate_is_per_lead_cohort_and_win_rate_matures_after_the_computed_window():
    # given
    build_funnel()
    # when
    mql = spc_chart(metric="mql_rate", by="all", period="week", as_of=AS_OF, maturity_days=0)
    win = spc_chart(metric="win_rate", by="all", period="week", as_of=AS_OF)
    # then MQL rate: 2 of 3, 1 of 2, 0 of 1
    points = mql.series[0].points
    assert [(p.n, p.value) for p in points[:3]] == [(3.0, 2 / 3), (2.0, 0.5), (1.0, 0.0)]
    # win rate: the only win took 17 days, so maturity is 17 days: week 03-03 is mature (03-03 + 7 + 17 = 03-27
    # <= 03-31), week 03-10 is not (04-03)
    assert [p.mature for p in win.series[0].points] == [True, False, False, False, False]
    assert win.series[0].points[0].value == pytest.approx(1 / 3)


def test_sql_rate_follows_mql_cohorts():
    # given
    build_funnel()
    # when
    chart = spc_chart(metric="sql_rate", by="all", period="week", as_of=AS_OF, maturity_days=0)
    # then: MQLs on 03-05 and 03-06 (week 03-03, one became SQL), 03-11 (week 03-10, none)
    points = chart.series[0].points
    assert points[0].start == dt.date(2025, 3, 3)
    assert [(p.n, p.value) for p in points[:2]] == [(2.0, 0.5), (1.0, 0.0)]


def test_a_chosen_baseline_is_mapped_to_point_indices():
    # given 12 weeks of leads with 10 a week, then a week of 30
    for week in range(12):
        count = 30 if week == 11 else 10 + (week % 3)
        for i in range(count):
            lead((dt.date(2025, 1, 6) + dt.timedelta(weeks=week, days=i % 5)).isoformat())
    as_of = dt.date(2025, 3, 31)
    # when the baseline is weeks 2025-01-13 .. 2025-02-24 (indices 1..7)
    chart = spc_chart(
        metric="volume", by="all", period="week", as_of=as_of, baseline=(dt.date(2025, 1, 13), dt.date(2025, 2, 24))
    )
    # then the limits are the XmR limits of those 7 weeks, computed by hand
    base = [10 + (w % 3) for w in range(1, 8)]
    mean = sum(base) / 7
    mr = sum(abs(b - a) for a, b in itertools.pairwise(base)) / 6
    series = chart.series[0]
    assert series.points[0].center == pytest.approx(mean)
    assert series.points[0].ucl == pytest.approx(mean + 3 * mr / 1.128)
    assert series.baseline == tuple(range(1, 8))
    # and the week of 30 (2025-03-24) is a signal beyond the limits
    assert any(s.rule == "beyond_limits" and s.start == dt.date(2025, 3, 24) for s in series.signals)


def test_bad_spc_options_name_the_field():
    with pytest.raises(ValidationFailed) as err:
        spc_chart(metric="speed", by="all", period="week")
    assert err.value.field == "metric"
    with pytest.raises(ValidationFailed) as err:
        spc_chart(metric="volume", by="team", period="week")
    assert err.value.field == "by"


def test_no_leads_gives_no_series():
    assert spc_chart(metric="volume", by="all", period="week").to_dict() == {
        "metric": "volume",
        "period": "week",
        "series": [],
    }


def test_segments_count_leads_and_conversions_per_field_with_wilson_intervals_and_spend():
    # given 4 education leads (1 won), 2 retail leads (0 won), and campaign costs per channel
    edu = AccountFactory(industry="education")
    shop = AccountFactory(industry="retail")
    lead("2025-03-03", account=edu, moves={"mql": "2025-03-04", "sql": "2025-03-05", "customer": "2025-03-09"})
    lead("2025-03-03", account=edu, moves={"mql": "2025-03-04", "sql": "2025-03-06"})
    lead("2025-03-03", account=edu)
    lead("2025-03-03", account=edu, channel="email")
    lead("2025-03-03", account=shop, channel="email")
    lead("2025-03-03", account=shop, channel="email")
    Campaign.objects.create(name="A", channel="paid_search", actual_cost=Decimal("300"))
    Campaign.objects.create(name="B", channel="paid_search", actual_cost=Decimal("200"))
    # when
    won = segment_table(by=["industry"], metric="won")
    sql = segment_table(by=["channel"], metric="sql")
    cross = segment_table(by=["industry", "channel"], metric="sql")
    # then
    rows = {r.segment["industry"]: r for r in won.rows}
    assert (rows["education"].n, rows["education"].conversions) == (4, 1)
    assert (rows["retail"].n, rows["retail"].conversions) == (2, 0)
    low, high = proportion_confint(1, 4, method="wilson")
    assert (rows["education"].low, rows["education"].high) == (pytest.approx(low), pytest.approx(high))
    assert won.overall_rate == pytest.approx(1 / 6)
    by_channel = {r.segment["channel"]: r for r in sql.rows}
    assert (by_channel["paid_search"].n, by_channel["paid_search"].conversions) == (3, 2)
    assert by_channel["paid_search"].spend == 500.0 and by_channel["email"].spend is None
    # vs the rest: 2/3 against 0/3, Fisher's exact test (expected counts below 5)
    assert by_channel["paid_search"].p_value == pytest.approx(stats.fisher_exact([[2, 1], [0, 3]])[1])
    assert {tuple(r.segment.values()): (r.n, r.conversions) for r in cross.rows} == {
        ("education", "paid_search"): (3, 2),
        ("education", "email"): (1, 0),
        ("retail", "email"): (2, 0),
    }


def test_segments_by_persona_read_the_custom_field():
    # given
    lead("2025-03-03", custom_fields={"persona": "Economic buyer"}, moves={"sql": "2025-03-04"})
    lead("2025-03-03", custom_fields={"persona": "Economic buyer"})
    lead("2025-03-03")
    # when
    report = segment_table(by=["persona"], metric="sql")
    # then
    assert {r.segment["persona"]: (r.n, r.conversions) for r in report.rows} == {
        "Economic buyer": (2, 1),
        "(none)": (1, 0),
    }


def test_unknown_segment_field_is_refused():
    with pytest.raises(ValidationFailed) as err:
        segment_table(by=["shoe_size"], metric="won")
    assert err.value.field == "by" and err.value.value == "shoe_size"


# --------------------------------------------------------------------------------------------- experiments

SMALL_CSV = """unit_id,variant,assigned_at,converted
u1,control,2025-03-03T09:00:00,1
u2,control,2025-03-03T10:00:00,0
u3,b,2025-03-03T11:00:00,1
u4,b,2025-03-04T09:00:00,1
u5,control,2025-03-04T09:30:00,0
u6,b,2025-03-04T12:00:00,0
"""


def test_experiment_import_and_report_count_per_variant_and_per_day():
    # given
    exp = experiment_create(name="hero", variants=["control", "b"], metric="sql_rate", minimum_effect=0.1)
    # when
    imported = experiment_import_csv(experiment=exp, source=SMALL_CSV)
    report = experiment_analyse(experiment=exp)
    # then
    assert imported == 6
    assert [(v["name"], v["n"], v["conversions"]) for v in report["variants"]] == [("control", 3, 1), ("b", 3, 2)]
    seq = report["sequential"][0]
    assert seq["days"] == ["2025-03-03", "2025-03-04"]
    comparison = report["analysis"]["comparisons"][0]
    # Fisher's exact test (small counts) on [[2, 1], [1, 2]]
    assert comparison["method"] == "fisher"
    assert comparison["p_value"] == pytest.approx(stats.fisher_exact([[2, 1], [1, 2]])[1])
    assert report["verdict"] == report["analysis"]["verdict"]
    exp.refresh_from_db()
    assert exp.status == Experiment.Status.RUNNING


def test_a_bad_row_imports_nothing_and_names_line_and_column():
    # given an experiment with data already
    exp = experiment_create(name="hero", variants=["control", "b"])
    experiment_import_csv(experiment=exp, source=SMALL_CSV)
    bad = SMALL_CSV + "u7,b,2025-03-05,maybe\n"
    # when
    with pytest.raises(ValidationFailed) as err:
        experiment_import_csv(experiment=exp, source=bad)
    # then
    assert err.value.message.startswith("line 8, column 'converted'")
    assert ExperimentAssignment.objects.filter(experiment=exp).count() == 6


def test_an_undefined_variant_is_refused():
    exp = experiment_create(name="hero", variants=["control", "b"])
    with pytest.raises(ValidationFailed) as err:
        experiment_import_csv(experiment=exp, source=SMALL_CSV.replace("u6,b", "u6,c"))
    assert err.value.field == "variant" and err.value.value == "c"
    assert not ExperimentAssignment.objects.exists()


def test_experiment_create_validates():
    experiment_create(name="hero", variants=["a", "b"])
    with pytest.raises(ValidationFailed) as err:
        experiment_create(name="hero", variants=["a", "b"])
    assert err.value.field == "name"
    with pytest.raises(ValidationFailed) as err:
        experiment_create(name="x", variants=["a"])
    assert err.value.field == "variants"
    with pytest.raises(ValidationFailed) as err:
        experiment_create(name="x", variants=["a", "b"], metric="vibes")
    assert err.value.field == "metric"


def test_revenue_per_lead_reads_revenue_sums():
    # given
    exp = experiment_create(name="price", variants=["a", "b"], metric="revenue_per_lead", minimum_effect=0.1)
    text = "unit_id,variant,assigned_at,converted,revenue\n" + "\n".join(
        f"u{i},{'a' if i % 2 else 'b'},2025-03-03,{int(i % 3 == 0)},{(i % 3 == 0) * (10 + i)}" for i in range(40)
    )
    experiment_import_csv(experiment=exp, source=text)
    # when
    report = experiment_analyse(experiment=exp)
    # then Welch's t-test on the per-unit revenues
    a = [(i % 3 == 0) * (10 + i) for i in range(40) if i % 2]
    b = [(i % 3 == 0) * (10 + i) for i in range(40) if not i % 2]
    revenue = report["analysis"]["comparisons"][0]["revenue_per_unit"]
    assert revenue["mean_control"] == pytest.approx(sum(a) / len(a))
    assert revenue["p_value"] == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue)


def clean_udacity_csv(path: Path) -> str:
    """Keep rows whose group matches its page, then the first row per user (the course's cleaning)."""
    out = io.StringIO()
    writer = csv.writer(out)
    seen: set[str] = set()
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        writer.writerow(next(reader))
        for user, ts, group, page, conv in reader:
            if (group == "control") != (page == "old_page") or user in seen:
                continue
            seen.add(user)
            writer.writerow([user, ts, group, page, conv])
    return out.getvalue()


@pytest.mark.shared_data
@pytest.mark.slow
def test_udacity_ab_data_imported_through_the_service(shared_data: Path):
    # given the Udacity landing-page test, cleaned of mismatched and duplicate rows
    text = clean_udacity_csv(shared_data / "udacity_ab_test" / "ab_data.csv")
    exp = experiment_create(
        name="udacity", variants=["control", "treatment"], metric="clicks", minimum_effect=0.005, subject_type="landing_page"
    )
    # when
    experiment_import_csv(
        experiment=exp, source=text, columns={"unit_id": "user_id", "variant": "group", "assigned_at": "timestamp"}
    )
    report = experiment_analyse(experiment=exp)
    # then the textbook answer: 12.04 % vs 11.88 %, p ≈ 0.19
    control, treatment = report["variants"]
    assert (control["n"], treatment["n"]) == (145274, 145310)
    assert round(control["rate"], 4) == 0.1204 and round(treatment["rate"], 4) == 0.1188
    _, p = proportions_ztest(
        [treatment["conversions"], control["conversions"]], [treatment["n"], control["n"]]
    )
    comparison = report["analysis"]["comparisons"][0]
    assert comparison["p_value"] == pytest.approx(p, rel=1e-10) and round(comparison["p_value"], 2) == 0.19
    assert report["verdict"].startswith("No significant difference: treatment's click rate is 11.88% vs 12.04%")
    # the sequential test over the 23 days never crossed α
    assert len(report["sequential"][0]["days"]) == 23 and report["sequential"][0]["rejected_on"] is None


def test_spc_chart_series_match_the_pure_layer():
    # given
    build_funnel()
    # when
    chart = spc_chart(metric="mql_rate", by="channel", period="week", as_of=AS_OF, maturity_days=3)
    # then the paid search series is the pure p-chart of the hand counts
    expected = spc.p_chart(
        key="paid_search",
        starts=[dt.date(2025, 3, d) for d in (3, 10, 17, 24, 31)],
        successes=[2, 1, 0, 0, 0],
        trials=[3, 2, 0, 0, 0],
        as_of=AS_OF,
        maturity_days=3,
        label="paid search MQL rate",
    )
    assert chart.series[0].to_dict() == expected.to_dict()


def test_downstream_outcomes_come_from_the_crm_after_assignment():
    # given three leads in a won-rate test: one won after assignment, one won before it, one not won
    exp = experiment_create(name="nurture", variants=["control", "b"], metric="revenue_per_lead", minimum_effect=0.1)
    after = lead("2025-03-01", email="after@x.example", moves={"customer": "2025-03-20"})
    before = lead("2025-03-01", email="before@x.example", moves={"customer": "2025-03-02"})
    lead("2025-03-01", email="never@x.example")
    DealFactory(person=after, stage="won", amount=Decimal("1200.00"), closed_at=at("2025-03-20"))
    DealFactory(person=before, stage="won", amount=Decimal("900.00"), closed_at=at("2025-03-02"))
    experiment_import_csv(
        experiment=exp,
        source="unit_id,variant,assigned_at,converted\n"
        "after@x.example,b,2025-03-05,0\nbefore@x.example,control,2025-03-05,0\nnever@x.example,control,2025-03-05,1\n"
        "anonymous,b,2025-03-05,1\n",
    )
    # when
    updated = experiment_outcomes_from_crm(experiment=exp)
    # then: the early win does not count; the file's 1 for "never" is corrected; the unlinked unit keeps its 1
    rows = {a.unit_id: (a.converted, a.revenue) for a in ExperimentAssignment.objects.filter(experiment=exp)}
    assert rows == {
        "after@x.example": (True, Decimal("1200.00")),
        "before@x.example": (False, Decimal("0.00")),
        "never@x.example": (False, Decimal("0.00")),
        "anonymous": (True, None),
    }
    assert updated == 3


def test_click_outcomes_cannot_come_from_the_crm():
    exp = experiment_create(name="cta", variants=["a", "b"], metric="clicks")
    with pytest.raises(ValidationFailed) as err:
        experiment_outcomes_from_crm(experiment=exp)
    assert err.value.field == "metric"
