from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.core.errors import ValidationFailed
from tandem.lifecycle.criteria import (
    Definition,
    Touch,
    criterion_from_dict,
    definition_changes,
    definition_describe,
    definition_evaluate,
    definition_first_met,
    dry_run_summary,
)

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


def holds(spec: dict[str, Any], facts: dict[str, Any] | None = None, touches: list[Touch] | None = None) -> bool:
    definition = Definition(name="mql", version=1, all_of=(criterion_from_dict({"id": "c", **spec}),))
    return definition_evaluate(definition, facts or {}, touches or [], NOW).met


def test_field_in_ignores_case_and_never_matches_a_missing_value() -> None:
    # given an industry list
    spec = {"type": "field_in", "field": "industry", "values": ["Software", "Fintech"]}
    # when / then
    assert holds(spec, {"industry": "software "}) is True
    assert holds(spec, {"industry": "FINTECH"}) is True
    assert holds(spec, {"industry": "Retail"}) is False
    assert holds(spec, {"industry": ""}) is False
    assert holds(spec, {}) is False


def test_field_not_in_needs_a_known_value() -> None:
    # given an excluded-countries list
    spec = {"type": "field_not_in", "field": "country", "values": ["RU", "by"]}
    # when / then
    assert holds(spec, {"country": "DE"}) is True
    assert holds(spec, {"country": "BY"}) is False
    assert holds(spec, {"country": None}) is False


def test_number_comparisons_include_their_bounds() -> None:
    # given three comparisons on scores
    at_least = {"type": "number", "field": "engagement_score", "op": ">=", "value": 40}
    at_most = {"type": "number", "field": "engagement_score", "op": "<=", "value": 40}
    between = {"type": "number", "field": "predictive_probability", "op": "between", "low": 0.3, "high": 0.8}
    # when / then
    assert [holds(at_least, {"engagement_score": v}) for v in (39.9, 40, 41)] == [False, True, True]
    assert [holds(at_most, {"engagement_score": v}) for v in (39.9, 40, 41)] == [True, True, False]
    assert [holds(between, {"predictive_probability": v}) for v in (0.29, 0.3, 0.8, 0.81)] == [False, True, True, False]
    assert holds(at_least, {"engagement_score": "55"}) is True
    assert holds(at_least, {"engagement_score": "n/a"}) is False
    assert holds(at_least, {"engagement_score": float("nan")}) is False
    assert holds(at_least, {"engagement_score": True}) is False


def test_fit_grade_compares_by_order_a_best() -> None:
    # given grade criteria
    b_or_better = {"type": "fit_grade", "op": ">=", "grade": "B"}
    c_or_worse = {"type": "fit_grade", "op": "<=", "grade": "c"}
    b_to_a = {"type": "fit_grade", "op": "between", "low": "C", "high": "B"}
    # when / then
    assert [holds(b_or_better, {"fit_grade": g}) for g in "ABCD"] == [True, True, False, False]
    assert [holds(c_or_worse, {"fit_grade": g}) for g in "ABCD"] == [False, False, True, True]
    assert [holds(b_to_a, {"fit_grade": g}) for g in "ABCD"] == [False, True, True, False]
    assert holds(b_or_better, {"fit_grade": "b"}) is True
    assert holds(b_or_better, {}) is False


def test_job_title_keywords_match_whole_words_and_exclusions_veto() -> None:
    # given the example from the issue
    spec = {"type": "title_keywords", "keywords": ["head", "director", "VP"], "exclude": ["student"]}
    # when / then
    assert holds(spec, {"job_title": "VP Sales"}) is True
    assert holds(spec, {"job_title": "Head of Growth"}) is True
    assert holds(spec, {"job_title": "Sales-Director, EMEA"}) is True
    assert holds(spec, {"job_title": "MVP engineer"}) is False
    assert holds(spec, {"job_title": "Headhunter"}) is False
    assert holds(spec, {"job_title": "Student head of the chess club"}) is False
    assert holds(spec, {"job_title": None}) is False


def test_consent_reads_the_channel_flag() -> None:
    # given consent to calls required
    spec = {"type": "consent", "channel": "calls"}
    # when / then
    assert holds(spec, {"consent_calls": True}) is True
    assert holds(spec, {"consent_calls": False, "consent_email": True}) is False
    assert holds(spec, {}) is False


def test_a_touchpoint_counts_from_exactly_d_days_ago_up_to_as_of() -> None:
    # given "has a demo request in the last 30 days"
    spec = {"type": "touchpoint", "kinds": ["demo_request"], "days": 30}
    edge = NOW - timedelta(days=30)
    # when / then the window is closed at both ends; later touchpoints and other kinds do not count
    assert holds(spec, touches=[Touch(edge, "demo_request", "direct", None)]) is True
    assert holds(spec, touches=[Touch(NOW, "demo_request", "direct", None)]) is True
    assert holds(spec, touches=[Touch(edge - timedelta(seconds=1), "demo_request", "direct", None)]) is False
    assert holds(spec, touches=[Touch(NOW + timedelta(seconds=1), "demo_request", "direct", None)]) is False
    assert holds(spec, touches=[Touch(NOW, "webinar", "webinar", None)]) is False


def test_a_touchpoint_can_be_restricted_to_a_campaign_and_a_channel() -> None:
    # given a webinar from campaign 7 on the webinar channel
    spec = {"type": "touchpoint", "kinds": ["webinar"], "channels": ["webinar"], "campaign_ids": [7], "days": 10}
    day = NOW - timedelta(days=1)
    # when / then
    assert holds(spec, touches=[(day, "webinar", "webinar", 7)]) is True
    assert holds(spec, touches=[(day, "webinar", "webinar", 8)]) is False
    assert holds(spec, touches=[(day, "webinar", "email", 7)]) is False
    assert holds(spec, touches=[(day, "webinar", "webinar", None)]) is False


def test_at_least_n_touchpoints_of_some_kinds_in_d_days() -> None:
    # given "at least 3 webinar or download touchpoints in 30 days"
    spec = {"type": "touchpoint_count", "min_count": 3, "kinds": ["webinar", "content_download"], "days": 30}
    recent = [NOW - timedelta(days=d) for d in (1, 5, 29)]
    # when / then
    three = [Touch(recent[0], "webinar", "webinar", 1), Touch(recent[1], "content_download", "content", 2), Touch(recent[2], "webinar", "webinar", 1)]
    assert holds(spec, touches=three) is True
    assert holds(spec, touches=[*three[:2], Touch(recent[2], "page_view", "direct", None)]) is False
    assert holds(spec, touches=[*three[:2], Touch(NOW - timedelta(days=31), "webinar", "webinar", 1)]) is False


MQL_V1 = {
    "name": "mql",
    "version": 1,
    "all": [
        {"id": "industry", "type": "field_in", "field": "industry", "values": ["Software", "Fintech"]},
        {"id": "title", "type": "title_keywords", "keywords": ["head", "director", "vp"], "exclude": ["student"]},
        {"id": "consent", "type": "consent", "channel": "email"},
    ],
    "any": [
        {"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 90},
        {"id": "busy", "type": "touchpoint_count", "min_count": 3, "days": 30},
    ],
    "note": "First agreed definition",
}


def test_evaluation_lists_matched_and_unmet_criteria_in_plain_words() -> None:
    # given a software VP with consent and one demo request 10 days ago
    definition = Definition.from_dict(MQL_V1)
    facts = {"industry": "Software", "job_title": "VP Marketing", "consent_email": True}
    touches = [Touch(NOW - timedelta(days=10), "demo_request", "direct", None)]
    # when
    evaluation = definition_evaluate(definition, facts, touches, NOW)
    # then the demo branch of "any" suffices
    assert evaluation.met is True
    assert [m.id for m in evaluation.matched] == ["industry", "title", "consent", "demo"]
    assert [u.id for u in evaluation.unmet] == ["busy"]
    assert evaluation.to_dict()["unmet"] == [{"id": "busy", "text": "At least 3 touchpoints in the last 30 days"}]
    assert evaluation.to_dict()["version"] == 1
    # and without the demo request nothing in "any" holds
    assert definition_evaluate(definition, facts, [], NOW).met is False
    # and a failed "all" criterion fails the definition even with "any" satisfied
    assert definition_evaluate(definition, {**facts, "consent_email": False}, touches, NOW).met is False


def test_describe_gives_the_common_language_sentences() -> None:
    # given
    definition = Definition.from_dict(MQL_V1)
    # when
    lines = definition_describe(definition)
    # then
    assert lines == [
        "Industry is 'Software' or 'Fintech'",
        "Job title contains 'head', 'director' or 'vp' (but not 'student')",
        "Has consented to email",
        "At least one of: Has a 'demo_request' touchpoint in the last 90 days; or At least 3 touchpoints in the last 30 days",
    ]


def test_describe_other_criterion_types() -> None:
    # given one of each remaining form
    specs = [
        {"type": "number", "field": "engagement_score", "op": ">=", "value": 40},
        {"type": "number", "field": "predictive_probability", "op": "between", "low": 0.25, "high": 0.5},
        {"type": "fit_grade", "op": ">=", "grade": "B"},
        {"type": "fit_grade", "op": "between", "low": "D", "high": "B"},
        {"type": "field_not_in", "field": "country", "values": ["RU"]},
        {"type": "touchpoint_count", "min_count": 2, "kinds": ["webinar"], "campaign_ids": [4, 9], "days": 1},
        {"type": "consent", "channel": "calls", "label": "May be phoned"},
    ]
    # when
    texts = [criterion_from_dict({"id": "x", **s}).describe() for s in specs]
    # then
    assert texts == [
        "Engagement score is at least 40",
        "Predictive probability is between 0.25 and 0.5",
        "Fit grade is B or better",
        "Fit grade is B, C or D",
        "Country is not 'RU'",
        "At least 2 touchpoints of kind 'webinar' from campaign 4 or 9 in the last 1 day",
        "May be phoned",
    ]


def test_definitions_round_trip_through_json_and_versions_are_compared_in_words() -> None:
    # given version 1 and a version 2 that drops consent, tightens the count and adds a grade
    v1 = Definition.from_dict(MQL_V1)
    data = Definition.from_dict(MQL_V1).to_dict()
    data["version"] = 2
    data["all"] = [c for c in data["all"] if c["id"] != "consent"] + [{"id": "grade", "type": "fit_grade", "op": ">=", "grade": "B"}]
    data["any"][1]["min_count"] = 5
    # when
    v2 = Definition.from_dict(data)
    # then
    assert Definition.from_dict(v1.to_dict()) == v1
    assert Definition.from_dict(v2.to_dict()) == v2
    assert v2.version == 2 and v1.note == "First agreed definition"
    assert definition_changes(v1, v2) == [
        "Added: Fit grade is B or better",
        "Changed: At least 5 touchpoints in the last 30 days (was: At least 3 touchpoints in the last 30 days)",
        "Removed: Has consented to email",
    ]


def test_criteria_without_ids_get_positional_ids() -> None:
    # given
    data = {"name": "sql", "all": [{"type": "consent"}], "any": [{"type": "fit_grade", "op": ">=", "grade": "A"}]}
    # when
    definition = Definition.from_dict(data)
    # then
    assert [c.id for c in definition.criteria] == ["all-1", "any-1"]
    assert definition.version == 1


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "mql", "all": [{"type": "magic"}]}, "type"),
        ({"name": "mql", "all": [{"type": "field_in", "field": "industry", "values": []}]}, "values"),
        ({"name": "mql", "all": [{"type": "field_in", "values": ["x"]}]}, "field"),
        ({"name": "mql", "all": [{"type": "touchpoint_count", "min_count": 2, "days": -3}]}, "days"),
        ({"name": "mql", "all": [{"type": "touchpoint_count", "min_count": 0, "days": 3}]}, "min_count"),
        ({"name": "mql", "all": [{"type": "touchpoint", "days": 3}]}, "kinds"),
        ({"name": "mql", "all": [{"type": "touchpoint", "kinds": ["x"], "days": "soon"}]}, "days"),
        ({"name": "mql", "all": [{"type": "number", "field": "engagement_score", "op": ">", "value": 3}]}, "op"),
        ({"name": "mql", "all": [{"type": "number", "field": "engagement_score", "op": ">="}]}, "value"),
        ({"name": "mql", "all": [{"type": "number", "field": "e", "op": "between", "low": 5, "high": 1}]}, "high"),
        ({"name": "mql", "all": [{"type": "number", "field": "e", "op": ">=", "value": "lots"}]}, "value"),
        ({"name": "mql", "all": [{"type": "fit_grade", "op": ">=", "grade": "E"}]}, "grade"),
        ({"name": "mql", "all": [{"type": "fit_grade", "op": "between", "low": "A", "high": "C"}]}, "high"),
        ({"name": "mql", "all": [{"type": "title_keywords", "keywords": []}]}, "keywords"),
        ({"name": "mql", "all": [{"type": "consent", "channel": "fax"}]}, "channel"),
        ({"name": "mql", "all": [{"id": "a", "type": "consent"}, {"id": "a", "type": "consent"}]}, "id"),
        ({"name": "opportunity", "all": [{"type": "consent"}]}, "name"),
        ({"name": "mql", "version": 0, "all": [{"type": "consent"}]}, "version"),
        ({"name": "mql"}, "all"),
        ({"name": "mql", "all": "consent"}, "all"),
    ],
)
def test_bad_definitions_are_refused_naming_the_field(data: dict[str, Any], field: str) -> None:
    # given / when
    with pytest.raises(ValidationFailed) as caught:
        Definition.from_dict(data)
    # then
    assert caught.value.field == field


def first_met_by_scalar(definition: Definition, facts: list[dict[str, Any]], touches: list[list[Touch]], created: list[datetime | None]) -> list[datetime | None]:
    """Independent reference: evaluate the scalar form at every candidate moment."""
    out: list[datetime | None] = []
    for person_facts, person_touches, made in zip(facts, touches, created, strict=True):
        moments = sorted({t.occurred_at for t in person_touches} | ({made} if made else set()))
        out.append(next((m for m in moments if definition_evaluate(definition, person_facts, person_touches, m).met), None))
    return out


def columns(facts: list[dict[str, Any]], names: tuple[str, ...]) -> dict[str, list[Any]]:
    return {name: [f.get(name) for f in facts] for name in names}


def arrays(touches: list[list[Touch]]) -> dict[str, Any]:
    flat = [(i, t) for i, ts in enumerate(touches) for t in ts]
    return {
        "touch_person": np.array([i for i, _ in flat], dtype=np.int64),
        "touch_at": np.array([np.datetime64(t.occurred_at.replace(tzinfo=None), "s") for _, t in flat], dtype="datetime64[s]"),
        "touch_kind": np.array([t.kind for _, t in flat], dtype=object),
        "touch_channel": np.array([t.channel for _, t in flat], dtype=object),
        "touch_campaign": np.array([-1 if t.campaign_id is None else t.campaign_id for _, t in flat], dtype=np.int64),
    }


def as_datetimes(values: np.ndarray) -> list[datetime | None]:
    return [None if np.isnat(v) else v.astype("datetime64[s]").item().replace(tzinfo=UTC) for v in values]


def test_first_met_is_the_first_touchpoint_at_which_everything_holds() -> None:
    # given "software and (a demo in 7 days or 2 touchpoints in 3 days)"
    definition = Definition.from_dict(
        {
            "name": "mql",
            "all": [{"id": "sw", "type": "field_in", "field": "industry", "values": ["software"]}],
            "any": [
                {"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 7},
                {"id": "two", "type": "touchpoint_count", "min_count": 2, "days": 3},
            ],
        }
    )
    day = datetime(2026, 1, 1, tzinfo=UTC)
    touches = [
        # person 0: two touches four days apart, then a third a day later -> met on day 5
        [Touch(day, "page_view", "direct", None), Touch(day + timedelta(days=4), "page_view", "direct", None), Touch(day + timedelta(days=5), "email_click", "email", 3)],
        # person 1: a demo request -> met at once
        [Touch(day + timedelta(days=2), "demo_request", "direct", None)],
        # person 2: retail, never
        [Touch(day, "demo_request", "direct", None)],
        # person 3: no touchpoints, but created: profile alone is not enough
        [],
    ]
    facts = [{"industry": "Software"}, {"industry": "software"}, {"industry": "Retail"}, {"industry": "Software"}]
    # when
    first = definition_first_met(
        definition, columns(facts, ("industry",)), n_people=4, created_at=np.array(["2025-12-01T00:00:00"] * 4, dtype="datetime64[s]"), **arrays(touches)
    )
    # then
    assert as_datetimes(first) == [day + timedelta(days=5), day + timedelta(days=2), None, None]
    # and a cut-off before day 5 leaves person 0 out
    cut = definition_first_met(definition, columns(facts, ("industry",)), n_people=4, as_of=np.datetime64("2026-01-05T00:00:00"), **arrays(touches))
    assert as_datetimes(cut) == [None, day + timedelta(days=2), None, None]


def test_a_profile_only_definition_is_met_at_creation_when_created_at_is_given() -> None:
    # given a definition with no behaviour criterion
    definition = Definition.from_dict({"name": "mql", "all": [{"type": "fit_grade", "op": ">=", "grade": "B"}]})
    facts = {"fit_grade": np.array(["A", "C"], dtype=object)}
    created = np.array(["2026-02-03T10:00:00", "2026-02-04T10:00:00"], dtype="datetime64[s]")
    # when
    first = definition_first_met(definition, facts, n_people=2, created_at=created, **arrays([[], []]))
    # then
    assert first.tolist() == [np.datetime64("2026-02-03T10:00:00", "s").item(), None]


KIND_CHOICES = ("page_view", "demo_request", "webinar", "Form_Submit")


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_vectorised_replay_agrees_with_the_scalar_evaluation(seed: int) -> None:
    # given random people, touchpoints and a definition mixing every criterion type
    rng = np.random.default_rng(seed)
    n = 12
    definition = Definition.from_dict(
        {
            "name": "mql",
            "all": [
                {"id": "ind", "type": "field_in", "field": "industry", "values": ["software", "fintech"]},
                {"id": "score", "type": "number", "field": "engagement_score", "op": ">=", "value": 20},
                {"id": "count", "type": "touchpoint_count", "min_count": int(rng.integers(1, 4)), "days": int(rng.integers(1, 10))},
            ],
            "any": [
                {"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": int(rng.integers(1, 20)), "channels": ["direct"]},
                {"id": "forms", "type": "touchpoint_count", "kinds": ["form_submit", "webinar"], "campaign_ids": [1, 2], "min_count": 2, "days": 5},
                {"id": "title", "type": "title_keywords", "keywords": ["head"], "exclude": ["student"]},
                {"id": "grade", "type": "fit_grade", "op": ">=", "grade": "A"},
                {"id": "nodq", "type": "field_not_in", "field": "country", "values": ["XX"]},
            ],
        }
    )
    facts = [
        {
            "industry": str(rng.choice(["Software", "Fintech", "Retail", ""])),
            "engagement_score": float(rng.choice([10.0, 20.0, 50.0, np.nan])),
            "job_title": str(rng.choice(["Head of IT", "Student head", "Engineer"])),
            "fit_grade": str(rng.choice(list("ABCD"))),
            "country": str(rng.choice(["XX", "DE"])),
        }
        for _ in range(n)
    ]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    touches = [
        sorted(
            (
                Touch(
                    start + timedelta(hours=int(rng.integers(0, 24 * 30))),
                    str(rng.choice(KIND_CHOICES)),
                    str(rng.choice(["direct", "email"])),
                    None if rng.random() < 0.3 else int(rng.integers(1, 4)),
                )
                for _ in range(int(rng.integers(0, 8)))
            ),
            key=lambda t: (t.occurred_at, t.kind),
        )
        for _ in range(n)
    ]
    created = [start + timedelta(hours=int(rng.integers(0, 24 * 30))) for _ in range(n)]
    # when
    first = definition_first_met(
        definition,
        columns(facts, ("industry", "engagement_score", "job_title", "fit_grade", "country")),
        n_people=n,
        created_at=np.array([np.datetime64(c.replace(tzinfo=None), "s") for c in created]),
        **arrays(touches),
    )
    # then
    assert as_datetimes(first) == first_met_by_scalar(definition, facts, touches, created)


def test_replaying_20k_people_and_100k_touchpoints_takes_well_under_a_second() -> None:
    # given a demo-company-sized history
    rng = np.random.default_rng(7)
    n, m = 20_000, 100_000
    definition = Definition.from_dict(MQL_V1)
    facts = {
        "industry": rng.choice(np.array(["Software", "Fintech", "Retail", None], dtype=object), n),
        "job_title": rng.choice(np.array(["Head of X", "VP Sales", "Student", "Engineer"], dtype=object), n),
        "consent_email": rng.random(n) < 0.8,
    }
    touch = {
        "touch_person": rng.integers(0, n, m),
        "touch_at": np.datetime64("2025-01-01T00:00:00") + rng.integers(0, 365 * 86_400, m).astype("timedelta64[s]"),
        "touch_kind": rng.choice(np.array(["page_view", "demo_request", "webinar"], dtype=object), m),
        "touch_channel": rng.choice(np.array(["email", "direct"], dtype=object), m),
        "touch_campaign": rng.integers(-1, 20, m),
    }
    # when
    started = time.perf_counter()
    first = definition_first_met(definition, facts, n_people=n, **touch)
    elapsed = time.perf_counter() - started
    # then
    assert 0 < int((~np.isnat(first)).sum()) < n
    assert elapsed < 1.0


def test_dry_run_summary_counts_mqls_per_month_and_their_later_conversions() -> None:
    # given five people: three MQLs in January, none in February, one in March, one never
    nat = np.datetime64("NaT")
    first = np.array(["2026-01-05", "2026-01-20", "2026-01-31T23:59", "2026-03-02", nat], dtype="datetime64[s]")
    sql = np.array(["2026-01-10", "2026-01-01", nat, "2026-03-10", "2026-01-01"], dtype="datetime64[s]")
    won = np.array(["2026-02-01", nat, nat, nat, nat], dtype="datetime64[s]")
    # when
    summary = dry_run_summary(first, sql, won)
    # then (the second person reached SQL before qualifying: not a conversion of that MQL)
    assert [(m.month, m.mqls, m.to_sql, m.won) for m in summary.months] == [
        ("2026-01", 3, 1, 1),
        ("2026-02", 0, 0, 0),
        ("2026-03", 1, 1, 0),
    ]
    assert (summary.total.mqls, summary.total.to_sql, summary.total.won) == (4, 2, 1)
    assert summary.total.sql_rate == 0.5
    assert summary.total.won_rate == 0.25
    # Wilson 95 % for 2 of 4, by hand: z = 1.959964, centre (0.5 + z²/8)/(1 + z²/4), half z·sqrt(1/16 + z²/64)/(1 + z²/4)
    z = 1.959963984540054
    centre = (0.5 + z * z / 8) / (1 + z * z / 4)
    half = z * np.sqrt(0.25 / 4 + z * z / 64) / (1 + z * z / 4)
    assert summary.total.sql_low == pytest.approx(centre - half, abs=1e-12)
    assert summary.total.sql_high == pytest.approx(centre + half, abs=1e-12)
    assert summary.to_dict()["months"][1] == {
        "month": "2026-02", "mqls": 0, "to_sql": 0, "won": 0, "sql_rate": 0.0, "sql_low": 0.0, "sql_high": 1.0, "won_rate": 0.0
    }


def test_dry_run_summary_without_any_mql_is_empty() -> None:
    # given nobody qualifying
    nat = np.array(["NaT", "NaT"], dtype="datetime64[s]")
    # when
    summary = dry_run_summary(nat, nat, nat)
    # then
    assert summary.months == ()
    assert summary.total.mqls == 0


def test_consent_accepts_boolean_and_one_zero_columns_in_the_replay() -> None:
    # given consent stored as numpy integers and as strings
    definition = Definition.from_dict({"name": "mql", "all": [{"type": "consent", "channel": "email"}]})
    facts = {"consent_email": np.array([1, 0, 2], dtype=np.int64)}
    created = np.array(["2026-01-01T00:00:00"] * 3, dtype="datetime64[s]")
    # when
    first = definition_first_met(definition, facts, n_people=3, created_at=created, **arrays([[], [], []]))
    # then only an exact 1 (or True, "yes", "true") counts as consent
    assert (~np.isnat(first)).tolist() == [True, False, False]
    assert holds({"type": "consent"}, {"consent_email": "Yes"}) is True
    assert holds({"type": "consent"}, {"consent_email": "no"}) is False
