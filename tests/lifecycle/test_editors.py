"""The editors in words: every spec the services accept becomes form fields and reads back unchanged; mistakes
land on the clause and input they concern. Pure functions, no database (the pages are tested elsewhere)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tandem.core.errors import ValidationFailed
from tandem.lifecycle.criteria import GRADES, Definition
from tandem.lifecycle.editors import (
    definition_form_check,
    definition_form_from_post,
    definition_form_from_spec,
    list_items,
    list_text,
    number_text,
    percent_share,
    percent_text,
    routing_form_check,
    routing_form_from_post,
    routing_form_from_spec,
    sla_form_check,
    sla_form_from_post,
    sla_form_from_spec,
)
from tandem.lifecycle.routing_rules import RoutingRules
from tandem.lifecycle.sla_rules import SlaPolicy

# Any text a JSON body can carry to the services, except NUL (refused) and lone surrogates (not UTF-8).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
WORD = TEXT.filter(lambda s: bool(s.strip()))
WORDS = st.lists(TEXT, max_size=4)
SOME_WORDS = st.lists(TEXT, max_size=4).filter(lambda items: any(i.strip() for i in items))
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
BIG_INT = st.integers(min_value=-(2**70), max_value=2**70)
FAST = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@st.composite
def criteria(draw: Any) -> dict[str, Any]:
    kind = draw(st.sampled_from(("field_in", "field_not_in", "number", "fit_grade", "title_keywords", "consent", "touchpoint", "touchpoint_count")))
    out: dict[str, Any] = {"type": kind, "label": draw(st.one_of(st.just(""), TEXT))}
    if kind in ("field_in", "field_not_in"):
        out.update(field=draw(WORD), values=draw(SOME_WORDS))
    elif kind == "number":
        op = draw(st.sampled_from((">=", "<=", "between")))
        low, high = sorted((draw(FLOATS), draw(FLOATS)))
        # Bounds the operator does not read may be sent too: the stored form drops them.
        out.update(field=draw(WORD), op=op, value=draw(FLOATS) if op != "between" or draw(st.booleans()) else None, low=low, high=high)
    elif kind == "fit_grade":
        op = draw(st.sampled_from((">=", "<=", "between")))
        a, b = sorted(draw(st.lists(st.sampled_from(GRADES), min_size=2, max_size=2)), key=GRADES.index)
        grade = draw(st.sampled_from(GRADES))
        out.update(op=op, grade=grade.lower() if draw(st.booleans()) else grade, low=b, high=a, field=draw(st.one_of(st.just(""), TEXT)))
    elif kind == "title_keywords":
        out.update(keywords=draw(SOME_WORDS).copy(), exclude=[w for w in draw(WORDS) if w.strip()], field=draw(st.one_of(st.just(""), TEXT)))
        out["keywords"] = [w for w in out["keywords"] if w.strip()]
    elif kind == "consent":
        out["channel"] = draw(st.sampled_from(("email", "calls")))
    else:
        out.update(
            days=draw(st.integers(1, 3660)),
            kinds=draw(SOME_WORDS if kind == "touchpoint" else WORDS),
            channels=draw(WORDS),
            campaign_ids=draw(st.lists(BIG_INT, max_size=3)),
        )
        if kind == "touchpoint_count":
            out["min_count"] = draw(st.integers(1, 2**62))
    return out


@st.composite
def definitions(draw: Any) -> dict[str, Any]:
    items = draw(st.lists(criteria(), min_size=1, max_size=6))
    ids = draw(st.lists(WORD, min_size=len(items), max_size=len(items), unique=True))
    split = draw(st.integers(0, len(items)))
    for item, cid in zip(items, ids, strict=True):
        item["id"] = cid
    spec = {"name": "mql", "version": 1, "all": items[:split], "any": items[split:], "note": draw(TEXT)}
    try:
        return Definition.from_dict(spec).to_dict()
    except ValidationFailed:
        assume(False)
        raise


@FAST
@given(stored=definitions())
def test_every_definition_reads_back_unchanged_from_its_form_fields(stored: dict[str, Any]) -> None:
    # given a definition in the form the services store it
    # when it is loaded into the editor and the fields the page shows are posted back
    form = definition_form_from_spec(stage="mql", spec=stored)
    posted = definition_form_from_post(form.to_post(), stage="mql")
    spec = definition_form_check(posted)
    # then it is valid and exactly the stored definition again
    assert spec is not None, [c.errors for c in posted.clauses] + posted.errors
    assert {**spec, "name": "mql", "version": 1} == stored


@st.composite
def routing_specs(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(1, 5))
    ids = draw(st.lists(WORD, min_size=n, max_size=n, unique=True))
    rules = []
    for i, rid in enumerate(ids):
        kinds = ["territory", "named_account", "round_robin"] + (["fallback"] if i == n - 1 else [])
        kind = draw(st.sampled_from(kinds))
        rule: dict[str, Any] = {"id": rid, "kind": kind, "label": draw(st.one_of(st.just(""), TEXT))}
        if kind == "territory":
            lists = [draw(WORDS) for _ in range(3)]
            assume(any(w.strip() for words in lists for w in words))
            rule.update(countries=lists[0], industries=lists[1], size_bands=lists[2])
        if kind in ("territory", "fallback"):
            rule["team_id" if draw(st.booleans()) else "rep_id"] = draw(BIG_INT)
        if kind == "round_robin":
            rule["team_id"] = draw(BIG_INT)
        rules.append(rule)
    return RoutingRules.from_dict({"rules": rules}).to_dict()


@FAST
@given(stored=routing_specs())
def test_every_routing_spec_reads_back_unchanged_from_its_form_fields(stored: dict[str, Any]) -> None:
    # given routing rules as stored; when loaded into the editor and posted back
    form = routing_form_from_spec(spec=stored)
    posted = routing_form_from_post(form.to_post())
    spec = routing_form_check(posted)
    # then they are exactly the stored rules again
    assert spec is not None, [r.errors for r in posted.rules] + posted.errors
    assert {**spec, "version": 1} == stored


@st.composite
def sla_specs(draw: Any) -> dict[str, Any]:
    whole = st.integers(0, 2**53)
    spec = {
        "first_touch_hours": draw(st.floats(min_value=0, max_value=720, exclude_min=True)),
        "min_attempts": draw(st.integers(1, 2**53)),
        "attempt_days": draw(st.integers(1, 365)),
        "mql_target_per_month": draw(st.one_of(st.none(), whole)),
        "min_mql_to_sql_rate": draw(st.one_of(st.none(), st.floats(min_value=0, max_value=1, exclude_min=True))),
        "reroute_after_hours": draw(st.one_of(st.none(), st.floats(min_value=0, max_value=720))),
    }
    return SlaPolicy.from_dict(spec).to_dict()


@FAST
@given(stored=sla_specs())
def test_every_sla_policy_reads_back_unchanged_from_its_form_fields(stored: dict[str, Any]) -> None:
    # given a policy as stored; when loaded into the editor and posted back
    form = sla_form_from_spec(spec=stored)
    spec = sla_form_check(sla_form_from_post(form.to_post()))
    # then it is exactly the stored policy again
    assert spec is not None, form.errors
    assert {**spec, "version": 1} == stored


@given(items=st.lists(WORD.map(str.strip), max_size=5))
def test_list_text_quotes_what_needs_quoting_and_reads_back(items: list[str]) -> None:
    assert list_items(list_text(items), name="values") == items


@given(value=FLOATS)
def test_number_text_reads_back_to_the_same_float(value: float) -> None:
    assert float(number_text(value)) == value


@given(share=st.floats(min_value=0, max_value=1, exclude_min=True))
def test_a_share_in_per_cent_reads_back_exactly(share: float) -> None:
    assert percent_share(percent_text(share), name="rate") == share


def test_lists_read_as_people_type_them() -> None:
    # given lists typed with spaces, quotes and line breaks
    # then items are trimmed, quoted commas stay inside, blanks are dropped
    assert list_items(' Software,  "Acme, Inc." ,,fintech\nRetail', name="values") == ["Software", "Acme, Inc.", "fintech", "Retail"]
    assert list_text(["Software", "Acme, Inc.", 'say "hi"']) == 'Software, "Acme, Inc.", "say ""hi"""'
    assert (percent_text(0.07), percent_text(0.25), percent_text(1.0), percent_share("7.5 %", name="r")) == ("7", "25", "100", 0.075)
    assert (number_text(4.0), number_text(0.25), number_text(3)) == ("4", "0.25", "3")


def _post(**fields: str) -> dict[str, str]:
    return {"stage": "mql", "note": "", **fields}


@pytest.mark.parametrize(
    ("fields", "where", "message"),
    [
        ({"c0-type": "touchpoint_count", "c0-days": "0", "c0-min_count": "3"}, "days", "'days' must be between 1 and 3660. (value: 0)"),
        ({"c0-type": "touchpoint_count", "c0-days": "thirty", "c0-min_count": "3"}, "days", "'days' must be a whole number. (value: thirty)"),
        ({"c0-type": "touchpoint_count", "c0-days": "30", "c0-min_count": "0"}, "min_count", "'min_count' must be at least 1. (value: 0)"),
        ({"c0-type": "touchpoint", "c0-days": "30", "c0-kinds": " , "}, "kinds", "A touchpoint criterion needs the kind of touchpoint."),
        ({"c0-type": "touchpoint", "c0-days": "30", "c0-kinds": "call", "c0-campaign_ids": "12, x"}, "campaign_ids", "'campaign_ids' must be whole numbers. (value: ['12', 'x'])"),
        ({"c0-type": "number", "c0-field": "engagement_score", "c0-op": ">=", "c0-value": "lots"}, "value", "'value' must be a number. (value: lots)"),
        ({"c0-type": "number", "c0-field": "engagement_score", "c0-op": "between", "c0-low": "9", "c0-high": "1"}, "high", "'between' needs low <= high. (value: 1.0)"),
        ({"c0-type": "fit_grade", "c0-op": ">=", "c0-grade": "E"}, "grade", "Fit grades are A, B, C or D. (value: E)"),
        ({"c0-type": "field_in", "c0-field": " ", "c0-values": "x"}, "field", "A list criterion needs a field name."),
        ({"c0-type": "title_keywords", "c0-keywords": ""}, "keywords", "A job-title criterion needs at least one keyword."),
        ({"c0-type": "consent", "c0-channel": "fax"}, "channel", "Consent is for 'email' or 'calls'. (value: fax)"),
    ],
)
def test_a_mistake_is_named_at_its_clause_and_input(fields: dict[str, str], where: str, message: str) -> None:
    # given a form with one bad clause beside a good one
    post = _post(**{"c0-id": "x", "c0-group": "any", **fields}, **{"c1-id": "ok", "c1-group": "any", "c1-type": "consent", "c1-channel": "email"})
    form = definition_form_from_post(post, stage="mql")
    # when it is checked
    spec = definition_form_check(form)
    # then there is no spec, the bad clause carries the message at the input, the good one reads as a sentence
    bad, good = form.clauses
    assert spec is None
    assert bad.errors[where].startswith(message), bad.errors
    assert good.errors == {} and good.sentence == "Has consented to email"


def test_duplicate_ids_and_an_empty_definition_are_named() -> None:
    # given two clauses with one id, then no clause at all
    twice = definition_form_from_post(
        _post(**{"c0-type": "consent", "c0-id": "a", "c0-channel": "email", "c1-type": "consent", "c1-id": "a", "c1-channel": "calls"}), stage="mql"
    )
    empty = definition_form_from_post(_post(), stage="mql")
    # then the ids are marked on both clauses, and the empty form has a form-level error
    assert definition_form_check(twice) is None
    assert [c.errors.get("id") for c in twice.clauses] == ["Criterion ids must be unique within a definition. (value: a)"] * 2
    assert definition_form_check(empty) is None and empty.errors == ["A definition needs at least one criterion. (value: mql)"]


def test_changing_a_type_starts_from_its_defaults_and_add_remove_move_keep_the_rest() -> None:
    # given the seeded MQL v1 in the editor
    form = definition_form_from_spec(
        stage="mql",
        spec={"any": [{"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 30},
                      {"id": "engaged", "type": "touchpoint_count", "min_count": 3, "days": 30}]},
    )
    # when the second clause becomes a fit grade, a number clause is added to "all" and the first moves there
    post = form.to_post()
    post["c1-type"] = "fit_grade"
    form = definition_form_from_post(post, stage="mql")
    form.add(group="all", kind="number")
    form.move(next(c.index for c in form.clauses if c.fields["id"] == "demo"))
    # then the clauses read in order, the new ones with their defaults
    assert [(c.group, c.type, c.fields["id"]) for c in form.clauses] == [
        ("all", "number", "number-1"), ("all", "touchpoint", "demo"), ("any", "fit_grade", "engaged"),
    ]
    form.clauses[0].fields["value"] = "60"
    spec = definition_form_check(form)
    assert spec is not None
    assert [c.sentence for c in form.clauses] == [
        "Engagement score is at least 60", "Has a 'demo_request' touchpoint in the last 30 days", "Fit grade is B or better",
    ]
    # and removing the number clause renumbers the rest
    form.remove(0)
    assert [(c.index, c.fields["id"]) for c in form.clauses] == [(0, "demo"), (1, "engaged")]


def test_routing_mistakes_are_named_at_the_rule_and_a_new_rule_goes_before_the_fallback() -> None:
    # given a territory without a target and a fallback
    form = routing_form_from_post(
        {"r0-kind": "territory", "r0-id": "dach", "r0-countries": "DE, AT", "r0-target": "",
         "r1-kind": "fallback", "r1-id": "queue", "r1-target": "rep:9"}
    )
    # when checked, then when a round-robin rule is added
    assert routing_form_check(form) is None
    message = form.rules[0].errors["target"]
    form.add(kind="round_robin")
    # then the error names the target, and the new rule lands before the fallback
    assert message == "A territory rule sends people to a team or to a rep (one of the two). (value: dach)"
    assert [r.kind for r in form.rules] == ["territory", "round_robin", "fallback"]


def test_sla_mistakes_are_named_at_their_input() -> None:
    base = {"first_touch_hours": "4", "min_attempts": "3", "attempt_days": "7", "mql_target_per_month": "", "min_mql_to_sql_rate": "", "reroute_after_hours": ""}
    for name, typed, message in [
        ("first_touch_hours", "0", "The first touch is due after more than 0 and at most 720 business hours. (value: 0.0)"),
        ("min_attempts", "2.5", "'min_attempts' must be a whole number. (value: 2.5)"),
        ("min_mql_to_sql_rate", "250", "The minimum MQL→SQL rate is more than 0 and at most 100 %. (value: 250)"),
        ("reroute_after_hours", "soon", "'reroute_after_hours' must be a number. (value: soon)"),
    ]:
        form = sla_form_from_post({**base, name: typed})
        assert sla_form_check(form) is None
        assert form.errors == {name: message}
    ok = sla_form_from_post({**base, "min_mql_to_sql_rate": "25", "mql_target_per_month": "120"})
    assert sla_form_check(ok) == {
        "first_touch_hours": 4.0, "min_attempts": 3, "attempt_days": 7, "mql_target_per_month": 120,
        "min_mql_to_sql_rate": 0.25, "reroute_after_hours": None,
    }
    assert ok.sentences[-1] == "At least 25 % of MQLs become SQLs."
