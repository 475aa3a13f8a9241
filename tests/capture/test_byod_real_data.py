"""docs/bring-your-own-data.md, run: X Education, Olist and Maven from the raw files to a funnel, segments and
a trained score, each with the documented commands."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tandem.crm.models import Deal, Person, StageChange
from tandem.scoring.models import ScoringModel

pytestmark = pytest.mark.shared_data


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _import(path: Path, preset: str) -> list[str]:
    lines = _run("import", "csv", str(path), "--preset", preset, "--no-progress").splitlines()
    # From the mapping line on (the line saying what encoding was detected is another feature's).
    return lines[next(i for i, line in enumerate(lines) if line.startswith("mapping: ")) :]


def _funnel() -> dict[str, int]:
    return json.loads(_run("report", "funnel", "--format", "json"))["total"]["counts"]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _trained() -> dict[str, Any]:
    out = _run("score", "train", "--no-refresh")
    model = ScoringModel.objects.order_by("-id").first()
    assert model is not None and out.startswith(f"Model {model.version} ")
    return {"status": model.status, **model.metrics, "evaluations": model.evaluations}


def test_x_education_from_the_raw_file_to_funnel_segments_and_a_score(db, shared_data):
    # given: the raw file, and its converted rows counted here
    path = shared_data / "x_education_leads" / "Leads.csv"
    rows = _rows(path)
    converted = sum(r["Converted"] == "1" for r in rows)
    # when: the documented command, twice
    started = time.perf_counter()
    first = _import(path, "x-education")
    seconds = time.perf_counter() - started
    print(f"X Education import with outcomes: {seconds:.2f} s")
    again = _import(path, "x-education")
    # then: every lead, and the funnel's customers are the file's converted rows
    assert (len(rows), converted) == (9240, 3561)
    assert first == [
        "mapping: x-education (people); 9240 rows",
        "created 9240  updated 0  unchanged 0  merged 0  refused 0",
        "touchpoints created: 9240; external ids linked: 9240; accounts created: 0; "
        "stage changes written: 16362",
        "won deals created: 3561; lost deals created: 0; deals updated: 0",
    ]
    assert again[1:] == [
        "created 0  updated 0  unchanged 9240  merged 0  refused 0",
        "touchpoints created: 0; external ids linked: 0; accounts created: 0; stage changes written: 0",
        "won deals created: 0; lost deals created: 0; deals updated: 0",
    ]
    assert Person.objects.count() == 9240
    assert (Deal.objects.filter(stage="won").count(), Deal.objects.count()) == (converted, converted)
    assert StageChange.objects.count() == 9240 + 2 * converted
    counts = _funnel()
    assert (counts["lead"], counts["customer"]) == (9240, converted)
    # segments: conversion by channel and by occupation (the preset's job title)
    by_channel = json.loads(_run("report", "segments", "--by", "channel"))
    by_job = json.loads(_run("report", "segments", "--by", "job_title"))
    assert by_channel["overall_rate"] == pytest.approx(converted / 9240)
    assert sum(r["n"] for r in by_channel["rows"]) == 9240
    assert sum(r["conversions"] for r in by_channel["rows"]) == converted
    reference = next(r for r in by_channel["rows"] if r["segment"] == {"channel": "referral"})
    assert (reference["n"], reference["conversions"]) == (534 + 125, 490 + 31)  # Reference, Referral Sites
    working = next(r for r in by_job["rows"] if r["segment"] == {"job_title": "Working Professional"})
    assert (working["n"], working["conversions"]) == (706, 647)
    # and a score trains, evaluated forward in time (the latest people validate)
    trained = _trained()
    assert trained["split"] == "time"
    assert trained["validation_rows"] > 1000
    assert 0.5 < trained["evaluations"]["model"]["auc"] <= 1.0
    # the sales-filled columns are never inputs (scoring's leakage denylist knows the preset's names)
    person = Person.objects.get(external_ids__external_id="9fae7df4-169d-489b-afe4-0f3d752542ed")
    assert {"tags", "lead_quality", "asymmetrique_activity_score"} <= set(person.custom_fields)
    assert "converted" not in person.custom_fields


def test_olist_mqls_and_closed_deals_to_funnel_and_a_score(db, shared_data):
    # given
    folder = shared_data / "olist_marketing_funnel"
    mqls = folder / "olist_marketing_qualified_leads_dataset.csv"
    deals = folder / "olist_closed_deals_dataset.csv"
    won = {r["mql_id"] for r in _rows(deals)} & {r["mql_id"] for r in _rows(mqls)}
    # when
    _import(mqls, "olist-mql")
    _import(deals, "olist-deals")
    # then: 8,000 MQLs, of whom the 842 with a closed deal are customers
    counts = _funnel()
    assert (counts["lead"], counts["mql"], counts["customer"]) == (8000, 8000, len(won)) == (8000, 8000, 842)
    segments = json.loads(_run("report", "segments", "--by", "channel"))
    assert sum(r["conversions"] for r in segments["rows"]) == 842
    trained = _trained()
    assert (trained["split"], trained["validation_rows"] > 1000) == ("time", True)


def test_maven_pipeline_as_leads_to_funnel(db, shared_data):
    # given: the pipeline, and the folder imported first (tandem import maven)
    folder = shared_data / "maven_crm_sales"
    rows = _rows(folder / "sales_pipeline.csv")
    stages = {s: sum(r["deal_stage"] == s for r in rows) for s in ("Won", "Lost")}
    _run("import", "maven", str(folder), "--no-progress")
    # when
    lines = _import(folder / "sales_pipeline.csv", "maven-pipeline")
    # then: one contact per opportunity; won ones customers, lost ones opportunities
    assert lines[1] == "created 8800  updated 0  unchanged 0  merged 0  refused 0"
    # the deals are the Maven import's, now with their contact: none doubled
    assert (
        lines[3]
        == f"won deals created: 0; lost deals created: 0; deals updated: {stages['Won'] + stages['Lost']}"
    )
    assert Deal.objects.count() == 8800
    assert Deal.objects.filter(stage="won", person__isnull=False).count() == stages["Won"] == 4238
    counts = _funnel()
    assert (counts["lead"], counts["opportunity"], counts["customer"]) == (8800, 4238 + 2473, 4238)
