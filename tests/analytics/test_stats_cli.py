"""`tandem report spc|segments|experiment` and `tandem experiment create|import|list`: JSON shapes and errors."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tandem.analytics.statistics.models import Experiment, ExperimentAssignment
from tandem.crm.models import StageChange
from tests.crm.factories import PersonFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def seed() -> None:
    for day, channel, won in (("2025-03-03", "paid_social", True), ("2025-03-04", "paid_social", False), ("2025-03-11", "email", False)):
        person = PersonFactory(created_at=dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC), original_channel=channel)
        if won:
            StageChange.objects.create(
                person=person, from_stage="lead", to_stage="customer", changed_at=dt.datetime(2025, 3, 6, tzinfo=dt.UTC)
            )


def test_report_spc_json_has_the_issue_shape():
    # given
    seed()
    # when
    data = json.loads(
        run("report", "spc", "--metric", "win_rate", "--by", "channel", "--period", "week", "--as-of", "2025-03-17", "--format", "json")
    )
    # then
    assert (data["metric"], data["period"]) == ("win_rate", "week")
    assert [s["key"] for s in data["series"]] == ["paid_social", "email"]
    first = data["series"][0]["points"][0]
    assert set(first) >= {"start", "value", "n", "center", "lcl", "ucl", "mature"}
    assert (first["start"], first["value"], first["n"]) == ("2025-03-03", 0.5, 2.0)
    # the win took 3 days, so maturity is 3 days: the week of 03-03 is mature from 03-13 (03-03 + 7 + 3), the
    # week of 03-10 only from 03-20, after as-of
    assert [p["mature"] for p in data["series"][0]["points"]] == [True, False, False]
    assert data["series"][0]["signals"] == []


def test_report_spc_bad_baseline_is_a_command_error():
    with pytest.raises(CommandError, match="baseline must be FROM,TO"):
        run("report", "spc", "--baseline", "yesterday")


def test_report_segments_json_has_the_issue_shape():
    # given
    seed()
    # when
    data = json.loads(run("report", "segments", "--by", "channel", "--metric", "won", "--format", "json"))
    # then
    assert data["by"] == ["channel"] and data["metric"] == "won"
    assert data["overall_rate"] == pytest.approx(1 / 3)
    row = next(r for r in data["rows"] if r["segment"] == {"channel": "paid_social"})
    assert (row["n"], row["conversions"], row["rate"]) == (2, 1, 0.5)
    assert set(row) >= {"segment", "n", "conversions", "rate", "low", "high", "shrunk_rate", "q_value", "flag"}


def test_report_segments_two_fields():
    seed()
    data = json.loads(run("report", "segments", "--by", "channel,job_title", "--metric", "sql"))
    assert data["by"] == ["channel", "job_title"]
    assert {tuple(r["segment"].values()) for r in data["rows"]} == {
        ("paid_social", "Head of Operations"),
        ("email", "Head of Operations"),
    }


def test_report_segments_unknown_field_is_a_command_error():
    with pytest.raises(CommandError, match="unknown field 'height'"):
        run("report", "segments", "--by", "height")


def test_experiment_create_import_list_and_report(tmp_path: Path):
    # given
    path = tmp_path / "ab.csv"
    path.write_text(
        "user,group,when,converted\n" + "".join(f"u{i},{'b' if i % 2 else 'a'},2025-03-0{1 + i % 3},{int(i % 4 == 0)}\n" for i in range(20))
    )
    # when
    created = run("experiment", "create", "cta", "--variants", "a,b", "--metric", "clicks", "--minimum-effect", "0.05")
    imported = run("experiment", "import", "cta", str(path), "--columns", "unit_id=user,variant=group,assigned_at=when")
    listed = json.loads(run("experiment", "list"))
    report = json.loads(run("report", "experiment", "cta", "--format", "json"))
    # then
    assert created.strip() == "created experiment 'cta' with variants a, b"
    assert imported.strip() == "imported 20 assignments into 'cta'"
    assert [(e["name"], e["units"], e["status"]) for e in listed] == [("cta", 20, "running")]
    # a: even units, converted when i % 4 == 0 → 5 of 10; b: odd units → 0 of 10
    assert [(v["name"], v["n"], v["conversions"]) for v in report["variants"]] == [("a", 10, 5), ("b", 10, 0)]
    assert report["sequential"][0]["days"] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert isinstance(report["verdict"], str) and report["verdict"]


def test_experiment_import_error_names_the_line(tmp_path: Path):
    # given
    Experiment.objects.create(name="cta", variants=["a", "b"])
    path = tmp_path / "bad.csv"
    path.write_text("unit_id,variant,assigned_at,converted\nu1,a,2025-03-01,1\nu2,b,someday,0\n")
    # when / then
    with pytest.raises(CommandError, match="line 3, column 'assigned_at'"):
        run("experiment", "import", "cta", str(path))
    assert not ExperimentAssignment.objects.exists()


def test_report_experiment_unknown_name():
    with pytest.raises(CommandError, match="no experiment named 'nope'"):
        run("report", "experiment", "nope")


def test_report_spc_states_the_maturity_window_it_used():
    # given one win 3 days after the lead
    seed()
    # when
    computed = json.loads(run("report", "spc", "--metric", "win_rate", "--as-of", "2025-03-17"))
    given = json.loads(run("report", "spc", "--metric", "win_rate", "--as-of", "2025-03-17", "--maturity-days", "10"))
    volume = json.loads(run("report", "spc", "--metric", "volume", "--as-of", "2025-03-17"))
    # then
    assert (computed["maturity_days"], given["maturity_days"], volume["maturity_days"]) == (3, 10, 0)
    # with 10 days the week of 03-03 matures on 03-20, after as-of
    assert [p["mature"] for p in given["series"][0]["points"]] == [False, False, False]
