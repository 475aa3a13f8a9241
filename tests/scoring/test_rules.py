"""Fit grade rules and engagement decay, computed by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from tandem.core.errors import ValidationFailed
from tandem.scoring.rules import (
    SECONDS_PER_DAY,
    EngagementConfig,
    FitConfig,
    FitRule,
    engagement_score,
    epoch_seconds,
    fit_evaluate,
    fit_points_batch,
    grades_batch,
    rule_score,
)

NOW = 1_700_000_000.0
DAY = SECONDS_PER_DAY

FIT = FitConfig(
    rules=(
        FitRule("industry", "in", 20, ("Software", "SaaS")),
        FitRule("company_size", "between", 15, low=100, high=1000, label="Company of 100-999 people"),
        FitRule("job_title", "contains_any", 20, ("vp", "head of", "director")),
        FitRule("country", "in", 10, ("US", "GB", "DE")),
        FitRule("job_title", "contains_any", -30, ("student", "intern")),
        FitRule("phone", "missing", -5),
    ),
    grade_minimums=(60, 35, 15),
)


def test_engagement_halves_every_half_life() -> None:
    # given 10 points for a webinar, half-life 7 days, attended 14 days ago
    config = EngagementConfig(points_by_kind={"webinar_attended": 10}, half_life_days=7)
    # when
    score = engagement_score(["webinar_attended"], [NOW - 14 * DAY], NOW, config)
    # then 10 * 0.5 * 0.5
    assert score == 2.5


def test_engagement_sums_kinds_and_ignores_later_and_unknown_events() -> None:
    # given a webinar now (10), an email click 7 days ago (4 -> 2), a page view (unknown kind: 0 points),
    # and a demo request tomorrow, which has not happened yet at NOW
    config = EngagementConfig(points_by_kind={"webinar_attended": 10, "email_click": 4, "demo_request": 50}, half_life_days=7)
    kinds = ["webinar_attended", "email_click", "page_view", "demo_request"]
    times = [NOW, NOW - 7 * DAY, NOW - DAY, NOW + DAY]
    # when
    score = engagement_score(kinds, times, NOW, config)
    # then
    assert score == 12.0


def test_fit_points_and_grade_by_hand() -> None:
    # given a software VP in the US at a 250-person company with a phone: 20 + 15 + 20 + 10 = 65
    vp = {"industry": "software", "company_size": 250, "job_title": "VP Marketing", "country": "US", "phone": "+1 555"}
    # and a student at a 5,000-person bank with no phone: -30 - 5 = -35
    student = {"industry": "Banking", "company_size": "5000", "job_title": "Student", "country": "FR"}
    # when
    vp_fit = fit_evaluate(vp, FIT)
    student_fit = fit_evaluate(student, FIT)
    # then
    assert (vp_fit.points, vp_fit.grade) == (65.0, "A")
    assert [r.description for r in vp_fit.matched] == [
        "Industry is Software or SaaS",
        "Company of 100-999 people",
        "Job title mentions vp or head of or director",
        "Country is US or GB or DE",
    ]
    assert (student_fit.points, student_fit.grade) == (-35.0, "D")


def test_grade_boundaries_are_inclusive() -> None:
    # given points exactly on each minimum
    points = np.array([60.0, 59.9, 35.0, 15.0, 14.9])
    # when
    grades = grades_batch(points, FIT)
    # then
    assert grades.tolist() == ["A", "B", "B", "C", "D"]


def test_batch_fit_points_equal_one_by_one() -> None:
    # given three profiles as columns (the third has no fields at all)
    people = [
        {"industry": "SaaS", "company_size": 99, "job_title": "Head of Sales", "country": "GB", "phone": "1"},
        {"industry": "saas", "company_size": 100, "job_title": "intern", "country": None, "phone": ""},
        {},
    ]
    columns = {f: [p.get(f) for p in people] for f in ("industry", "company_size", "job_title", "country", "phone")}
    # when
    batch = fit_points_batch(columns, 3, FIT)
    # then 20 + 20 + 10 (99 people is below the band); 20 + 15 - 30 - 5 (blank phone is missing); -5
    assert batch.tolist() == [fit_evaluate(p, FIT).points for p in people] == [50.0, 0.0, -5.0]


def test_fit_config_round_trips_through_json() -> None:
    # given the config as JSON text
    text = json.dumps(FIT.to_dict())
    # when
    again = FitConfig.from_dict(json.loads(text))
    # then
    assert again == FIT


def test_engagement_config_round_trips_through_json() -> None:
    # given
    config = EngagementConfig(points_by_kind={"webinar_attended": 10.0}, half_life_days=14, default_points=1)
    # when
    again = EngagementConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    # then
    assert again == config


def test_bad_rules_name_the_field() -> None:
    # given / when / then
    with pytest.raises(ValidationFailed) as err:
        FitRule.from_dict({"field": "industry", "op": "like", "points": 5, "values": ["x"]})
    assert err.value.field == "op"
    with pytest.raises(ValidationFailed) as err:
        FitRule("size", "between", 5, low=100, high=10)
    assert err.value.field == "high"
    with pytest.raises(ValidationFailed) as err:
        FitConfig(rules=(), grade_minimums=(10, 20, 5))
    assert err.value.field == "grade_minimums"
    with pytest.raises(ValidationFailed) as err:
        FitConfig.from_dict({"rules": [], "grade_minimums": ["high", 20, 5]})
    assert err.value.field == "grade_minimums"
    with pytest.raises(ValidationFailed) as err:
        EngagementConfig(half_life_days=0)
    assert err.value.field == "half_life_days"


def test_epoch_seconds_needs_a_time_zone() -> None:
    # given an aware and a naive moment
    aware = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    # when / then
    assert epoch_seconds(aware) == datetime(2026, 1, 1, 10, tzinfo=UTC).timestamp()
    with pytest.raises(ValidationFailed):
        epoch_seconds(datetime(2026, 1, 1))


def test_rule_score_adds_fit_and_engagement() -> None:
    # given / when / then
    assert rule_score(np.array([65.0, -35.0]), np.array([2.5, 0.0])).tolist() == [67.5, -35.0]


def test_engagement_kinds_match_whatever_their_capitals() -> None:
    # given points configured for "webinar_attended" and an event logged as "Webinar_Attended" today
    config = EngagementConfig(points_by_kind={"webinar_attended": 10}, half_life_days=7)
    # when / then
    assert engagement_score(["Webinar_Attended"], [NOW], NOW, config) == 10.0
