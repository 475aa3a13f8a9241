"""The cohort LTV method on the CDNOW transaction log: our figures against pandas and the published ones."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tandem.stats.economics import ltv_report

pytestmark = pytest.mark.shared_data

AS_OF = dt.date(1998, 6, 30)
HORIZON = 18


def _log(shared_data: Path) -> pd.DataFrame:
    frame = pd.read_csv(shared_data / "cdnow_clv" / "cdnow_transactions.csv", dtype={"customer_id": str})
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def _ours(frame: pd.DataFrame) -> dict:
    days = (frame["date"] - pd.Timestamp("1970-01-01")).dt.days.to_numpy()
    return ltv_report(
        customer=frame["customer_id"].astype(int).to_numpy(),
        day=days,
        value=frame["dollar_value"].to_numpy(),
        as_of_day=(AS_OF - dt.date(1970, 1, 1)).days,
        horizon=HORIZON,
    )


def test_cdnow_counts_match_the_published_figures(shared_data: Path):
    # given the log of the 23,570 customers of Q1 1997 (SOURCE.md: $2,500,315.63, 49.5 % bought more than once)
    frame = _log(shared_data)
    # when
    report = _ours(frame)
    # then
    assert (report["customers"], report["purchases"]) == (23570, 69659)
    assert report["revenue"] == pytest.approx(2500315.63, abs=0.01)
    assert round(report["repeat_rate"] * 100, 1) == 49.5
    assert report["average_value"] == pytest.approx(2500315.63 / 69659, abs=1e-6)


def test_cdnow_retention_and_ltv_match_pandas(shared_data: Path):
    # given an independent computation: cohort = month of first purchase; month k = calendar months since it
    frame = _log(shared_data)
    month = frame["date"].dt.year * 12 + frame["date"].dt.month - 1
    frame = frame.assign(month=month)
    cohort = frame.groupby("customer_id")["month"].transform("min")
    frame = frame.assign(cohort=cohort, k=month - cohort)
    last = AS_OF.year * 12 + AS_OF.month - 1  # June 1998 has fully passed on its last day
    sizes = frame.groupby("cohort")["customer_id"].nunique()
    active = frame.groupby(["cohort", "k"])["customer_id"].nunique().unstack(fill_value=0)
    revenue = frame.groupby(["cohort", "k"])["dollar_value"].sum().unstack(fill_value=0.0)
    expected_rate, expected_rpc = [], []
    for k in range(HORIZON):
        cohorts = [c for c in sizes.index if c + k <= last]
        n = sizes[cohorts].sum()
        expected_rate.append(sum(active.get(k, pd.Series(dtype=float)).get(c, 0) for c in cohorts) / n)
        expected_rpc.append(sum(revenue.get(k, pd.Series(dtype=float)).get(c, 0.0) for c in cohorts) / n)
    # when
    report = _ours(frame)
    # then 18 months observed for every cohort (Jan–Mar 1997 to June 1998 is at least 16 months; Jan sees 18)
    assert report["months_observed"] == HORIZON
    assert [r["retention"] for r in report["retention"]] == pytest.approx(expected_rate, abs=1e-12)
    assert [r["revenue_per_customer"] for r in report["retention"]] == pytest.approx(expected_rpc, abs=1e-9)
    assert report["ltv"] == pytest.approx(float(np.sum(expected_rpc)), abs=1e-9)
    # cohort rows: the three first-purchase months of Q1 1997, month 0 retention 100 %
    assert [c["cohort"] for c in report["cohorts"]] == ["1997-01", "1997-02", "1997-03"]
    assert [c["customers"] for c in report["cohorts"]] == sizes.tolist()
    for row, c in zip(report["cohorts"], sizes.index, strict=True):
        expected = [active.loc[c].get(k, 0) / sizes[c] for k in range(min(last - c + 1, HORIZON))]
        assert row["retention"] == pytest.approx(expected, abs=1e-12)
