"""The pure funnel: reach times with skipped stages, hand-counted conversion, Wilson intervals, velocity, cohorts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.core.errors import ValidationFailed
from tandem.stats.funnel import (
    DAY,
    STAGES,
    cohort_labels,
    funnel_by,
    funnel_group,
    funnel_report,
    reach_times,
)


def _wilson(x: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def test_reach_times_skipping_a_stage_reaches_the_skipped_ones_at_the_same_moment():
    # given person 0: lead at day 0, then straight to SQL at day 3 (skipping MQL, SAL);
    # person 1: subscriber, then MQL at day 5 (lead skipped), recycled, MQL again at day 9
    person = [0, 0, 1, 1, 1, 1]
    to_stage = ["lead", "sql", "subscriber", "mql", "recycled", "mql"]
    times = np.array([0, 3, 1, 5, 6, 9]) * DAY
    # when
    reached = reach_times(person=person, to_stage=to_stage, times=times, n_people=2)
    # then
    nan = np.nan
    np.testing.assert_array_equal(reached[0], np.array([0, 3, 3, 3, nan, nan]) * DAY)
    np.testing.assert_array_equal(reached[1], np.array([5, 5, nan, nan, nan, nan]) * DAY)


def test_reach_times_takes_the_earliest_time_a_stage_was_reached_even_if_rows_come_unordered():
    # given a person reaching customer at day 10 and MQL at day 2, rows listed out of order
    # when
    reached = reach_times(person=[0, 0, 0], to_stage=["customer", "mql", "lead"], times=[10 * DAY, 2 * DAY, 1 * DAY], n_people=1)
    # then lead 1, MQL 2, SAL..customer 10
    np.testing.assert_array_equal(reached[0], np.array([1, 2, 10, 10, 10, 10]) * DAY)


def test_reach_times_refuses_person_numbers_out_of_range():
    # given / when / then
    with pytest.raises(ValidationFailed) as info:
        reach_times(person=[0, 2], to_stage=["lead", "lead"], times=[0.0, 1.0], n_people=2)
    assert info.value.field == "person"


def test_funnel_group_counts_rates_intervals_and_velocity_by_hand():
    # given four people (days): A lead0 mql2 sal3; B lead0 mql4; C lead1 mql2 sal4 sql5 opp6 customer10; D lead0
    nan = np.nan
    reached = np.array(
        [
            [0, 2, 3, nan, nan, nan],
            [0, 4, nan, nan, nan, nan],
            [1, 2, 4, 5, 6, 10],
            [0, nan, nan, nan, nan, nan],
        ]
    ) * DAY
    # when
    group = funnel_group(reached)
    # then counts per stage
    assert group.counts == (4, 3, 2, 1, 1, 1)
    lead_mql, mql_sal, sal_sql, sql_opp, opp_cust = group.steps
    # lead→MQL: 3 of 4; Wilson interval computed here independently
    assert (lead_mql.n, lead_mql.converted, lead_mql.rate) == (4, 3, 0.75)
    low, high = _wilson(3, 4)
    assert lead_mql.low == pytest.approx(low, abs=1e-12)
    assert lead_mql.high == pytest.approx(high, abs=1e-12)
    # velocity lead→MQL: days 2, 4, 1 → median 2, p80 = 2 + 0.6·(4 − 2) = 3.2 (linear interpolation)
    assert lead_mql.days_median == pytest.approx(2.0)
    assert lead_mql.days_p80 == pytest.approx(3.2)
    # MQL→SAL: 2 of 3, days 1 and 2 → median 1.5, p80 1.8
    assert (mql_sal.n, mql_sal.converted) == (3, 2)
    assert mql_sal.rate == pytest.approx(2 / 3)
    assert mql_sal.days_median == pytest.approx(1.5)
    assert mql_sal.days_p80 == pytest.approx(1.8)
    # SAL→SQL 1 of 2; SQL→opp 1 of 1 (upper bound exactly 1); opp→customer 4 days
    assert (sal_sql.n, sal_sql.converted, sal_sql.rate) == (2, 1, 0.5)
    assert (sql_opp.rate, sql_opp.high) == (1.0, 1.0)
    assert opp_cust.days_median == pytest.approx(4.0)


def test_funnel_group_with_nobody_at_a_stage_has_no_rate_and_the_whole_interval():
    # given one lead who went nowhere
    reached = np.array([[0.0, np.nan, np.nan, np.nan, np.nan, np.nan]])
    # when
    group = funnel_group(reached)
    # then lead→MQL 0 of 1 (low 0); MQL→SAL 0 of 0: no rate, [0, 1], no velocity
    assert (group.steps[0].rate, group.steps[0].low) == (0.0, 0.0)
    assert group.steps[1].rate is None
    assert (group.steps[1].low, group.steps[1].high) == (0.0, 1.0)
    assert group.steps[1].days_median is None


def test_funnel_by_splits_by_label_largest_group_first_and_ignores_people_who_never_reached_lead():
    # given three email leads (one converted to MQL), one paid lead, and one person without a lead time
    nan = np.nan
    reached = np.array(
        [
            [0, 1, nan, nan, nan, nan],
            [0, nan, nan, nan, nan, nan],
            [0, nan, nan, nan, nan, nan],
            [0, 2, nan, nan, nan, nan],
            [nan, nan, nan, nan, nan, nan],
        ]
    )
    # when
    groups = funnel_by(reached, ["email", "email", "email", "paid", "paid"])
    # then
    assert [(g.key, g.counts[0], g.counts[1]) for g in groups] == [("email", 3, 1), ("paid", 1, 1)]


def test_cohort_labels_by_month_and_quarter_in_utc():
    # given 2026-01-31 23:59:59 UTC, 2026-02-01 00:00:00 UTC, 2025-12-15 and a missing time
    jan31 = 1769903999.0
    feb1 = 1769904000.0
    dec15 = 1765756800.0
    # when / then
    assert cohort_labels([jan31, feb1, dec15, np.nan], period="month") == ["2026-01", "2026-02", "2025-12", ""]
    assert cohort_labels([jan31, feb1, dec15], period="quarter") == ["2026-Q1", "2026-Q1", "2025-Q4"]
    with pytest.raises(ValidationFailed) as info:
        cohort_labels([jan31], period="week")
    assert info.value.field == "period"


def test_funnel_report_has_the_total_each_cohort_and_each_segment():
    # given two January leads (one MQL) and one February lead
    jan = 1767225600.0  # 2026-01-01
    feb = 1769904000.0  # 2026-02-01
    nan = np.nan
    reached = np.array([[jan, jan + DAY, nan, nan, nan, nan], [jan, nan, nan, nan, nan, nan], [feb] + [nan] * 5])
    # when
    report = funnel_report(reached, segments=["a", "b", "a"], period="month", by="channel")
    # then
    assert report["stages"] == list(STAGES)
    assert report["total"]["counts"]["lead"] == 3
    assert [(c["key"], c["counts"]["lead"], c["counts"]["mql"]) for c in report["cohorts"]] == [
        ("2026-01", 2, 1),
        ("2026-02", 1, 0),
    ]
    assert [(s["key"], s["counts"]["lead"]) for s in report["segments"]] == [("a", 2), ("b", 1)]
    assert report["total"]["steps"][0]["days_median"] == pytest.approx(1.0)


@given(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(STAGES), st.integers(0, 100)), max_size=40))
def test_counts_never_grow_down_the_funnel(rows):
    # given any stage-change history of six people
    # when
    reached = reach_times(
        person=[r[0] for r in rows], to_stage=[r[1] for r in rows], times=[float(r[2]) for r in rows], n_people=6
    )
    group = funnel_group(reached)
    # then everyone at a stage reached every earlier one, no later
    assert all(a >= b for a, b in zip(group.counts, group.counts[1:], strict=False))
    hit = ~np.isnan(reached)
    assert np.all(np.diff(np.where(hit, reached, 1e18), axis=1)[hit[:, 1:]] >= 0)
