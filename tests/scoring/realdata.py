"""Readers for the two real lead datasets, shared by the scoring tests and bench/bench_scoring.py.

Plain ``csv`` readers that turn the files into the scoring layer's columnar input. The importer from the
capture issue will later feed the same features from the database.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tandem.scoring.features import LEAKAGE_DENYLIST, FeatureSpec, ScoringInput, normalise_field_name
from tandem.scoring.rules import FitConfig, FitRule

XEDU_FILE = Path("x_education_leads") / "Leads.csv"
XEDU_TARGET = "Converted"
XEDU_IDS = ("Prospect ID", "Lead Number")
# Filled in by sales during or after the follow-up (see the dataset's SOURCE.md): never features.
XEDU_LEAKAGE = (
    "Tags",
    "Lead Quality",
    "Last Activity",
    "Last Notable Activity",
    "Lead Profile",
    "Asymmetrique Activity Index",
    "Asymmetrique Profile Index",
    "Asymmetrique Activity Score",
    "Asymmetrique Profile Score",
)
XEDU_NUMERIC = ("TotalVisits", "Total Time Spent on Website", "Page Views Per Visit")

OLIST_DIR = Path("olist_marketing_funnel")


@dataclass(frozen=True)
class LeadTable:
    """One dataset as the scoring layer sees it."""

    inputs: ScoringInput
    spec: FeatureSpec
    y: np.ndarray
    rule_scores_config: FitConfig


def xeducation_rows(shared_data: Path) -> list[dict[str, str | None]]:
    """Leads.csv rows with 'Select' and blanks as None and the leakage and id columns dropped."""
    with (shared_data / XEDU_FILE).open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        dropped = {*XEDU_LEAKAGE, *XEDU_IDS}
        rows = []
        for raw in reader:
            row: dict[str, str | None] = {}
            for key, value in raw.items():
                if key in dropped:
                    continue
                text = (value or "").strip()
                row[key] = None if text in ("", "Select") else text
            rows.append(row)
    return rows


# Rules an admin might write from experience (not fitted to this data): who fits an online-course offer.
XEDU_FIT = FitConfig(
    rules=(
        FitRule("What is your current occupation", "in", 30, ("Working Professional",), label="Working professional"),
        FitRule("What is your current occupation", "in", 10, ("Unemployed", "Businessman"), label="Looking for a career move"),
        FitRule("What is your current occupation", "in", -10, ("Student",), label="Student"),
        FitRule("Lead Origin", "in", 25, ("Lead Add Form",), label="Filled in the lead form"),
        FitRule("Lead Source", "in", 20, ("Reference", "Welingak Website"), label="Referred"),
        FitRule("Do Not Email", "in", -15, ("Yes",), label="Opted out of email"),
        FitRule("Total Time Spent on Website", "between", 25, low=1000, label="Long time on the website"),
        FitRule("Total Time Spent on Website", "between", 10, low=300, high=1000, label="Some time on the website"),
        FitRule("TotalVisits", "between", 5, low=5, label="Five or more visits"),
    ),
    grade_minimums=(60.0, 35.0, 15.0),
)


def xeducation(shared_data: Path) -> LeadTable:
    """X Education at lead-creation time: profile and web-visit columns, no after-the-fact columns."""
    rows = xeducation_rows(shared_data)
    y = np.array([float(r.pop(XEDU_TARGET) or 0) for r in rows])
    fields = [k for k in rows[0] if normalise_field_name(k) not in LEAKAGE_DENYLIST]
    categorical = tuple(f for f in fields if f not in XEDU_NUMERIC)
    profile = {f: [r[f] for r in rows] for f in fields}
    inputs = ScoringInput.build(cutoffs=np.zeros(len(rows)), profile=profile)
    spec = FeatureSpec(
        categorical=categorical,
        numeric=XEDU_NUMERIC,
        use_events=False,
        labels={"What is your current occupation": "Occupation", "A free copy of Mastering The Interview": "Wants the free book"},
        max_levels=30,
        min_level_count=5,
    )
    return LeadTable(inputs=inputs, spec=spec, y=y, rule_scores_config=XEDU_FIT)


@dataclass(frozen=True)
class OlistTable:
    inputs: ScoringInput
    spec: FeatureSpec
    y: np.ndarray
    times: np.ndarray


def olist(shared_data: Path) -> OlistTable:
    """Olist MQLs (origin, landing page, first contact) labelled won when a closed deal names them."""
    with (shared_data / OLIST_DIR / "olist_closed_deals_dataset.csv").open(newline="", encoding="utf-8") as handle:
        won = {row["mql_id"] for row in csv.DictReader(handle)}
    with (shared_data / OLIST_DIR / "olist_marketing_qualified_leads_dataset.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    times = np.array(
        [datetime.strptime(r["first_contact_date"], "%Y-%m-%d").replace(tzinfo=UTC).timestamp() for r in rows]
    )
    dates = [datetime.strptime(r["first_contact_date"], "%Y-%m-%d") for r in rows]
    profile: dict[str, list[object]] = {
        "origin": [r["origin"] or None for r in rows],
        "landing_page_id": [r["landing_page_id"] or None for r in rows],
        "first_contact_weekday": [d.strftime("%A") for d in dates],
    }
    inputs = ScoringInput.build(cutoffs=times, profile=profile)
    spec = FeatureSpec(
        categorical=("origin", "landing_page_id", "first_contact_weekday"),
        use_events=False,
        labels={"origin": "Origin", "landing_page_id": "Landing page", "first_contact_weekday": "First contact on"},
        max_levels=40,
        min_level_count=20,
    )
    y = np.array([1.0 if r["mql_id"] in won else 0.0 for r in rows])
    return OlistTable(inputs=inputs, spec=spec, y=y, times=times)
