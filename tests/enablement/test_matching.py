"""Persona rules reuse the qualification criteria: parsing, matching order and the sentences shown."""

from __future__ import annotations

import pytest

from tandem.core.errors import ValidationFailed
from tandem.enablement.matching import (
    Candidate,
    persona_pick,
    rules_describe,
    rules_hold,
    rules_parse,
    rules_reasons,
)

REVOPS = rules_parse({"any": [{"type": "field_in", "field": "persona", "values": ["RevOps"]}, {"type": "title_keywords", "keywords": ["RevOps", "Sales Operations"]}]})
LEADER = rules_parse({"all": [{"type": "field_in", "field": "seniority", "values": ["director", "vp / head"]}], "any": [{"type": "title_keywords", "keywords": ["Sales"]}]})


def test_any_rules_match_on_one_criterion_and_say_which():
    # given a person with a RevOps title but no persona field / when / then
    facts = {"job_title": "Director of Sales Operations"}
    assert rules_hold(REVOPS, facts)
    assert rules_reasons(REVOPS, facts) == ["Job title contains 'RevOps' or 'Sales Operations'"]


def test_all_and_any_must_both_hold():
    # given a director in sales and a manager in sales / when / then only the director matches
    assert rules_hold(LEADER, {"seniority": "Director", "job_title": "Sales Director"})
    assert not rules_hold(LEADER, {"seniority": "manager", "job_title": "Sales Manager"})
    assert not rules_hold(LEADER, {"seniority": "director", "job_title": "Finance Director"})


def test_empty_rules_match_nobody():
    assert not rules_hold(rules_parse({}), {"job_title": "anything"})


def test_the_first_persona_by_priority_wins_and_ties_go_by_name():
    # given two personas that both match, and one that does not
    people = {"persona": "RevOps", "seniority": "director", "job_title": "Sales Operations Director"}
    candidates = [
        Candidate(1, "Sales leader", 20, LEADER),
        Candidate(2, "RevOps", 10, REVOPS),
        Candidate(3, "Nobody", 1, rules_parse({"all": [{"type": "field_in", "field": "persona", "values": ["CFO"]}]})),
    ]
    # when / then the lower priority number wins
    assert persona_pick(candidates, people).name == "RevOps"  # type: ignore[union-attr]
    assert persona_pick([Candidate(1, "B", 5, REVOPS), Candidate(2, "a", 5, REVOPS)], people).name == "a"  # type: ignore[union-attr]
    assert persona_pick(candidates[2:], people) is None


@pytest.mark.parametrize(
    ("rules", "field", "value"),
    [
        ({"all": [{"type": "touchpoint", "days": 30}]}, "type", "touchpoint"),
        ({"all": [{"type": "telepathy"}]}, "type", "telepathy"),
        ({"every": []}, "rules", "every"),
        ({"all": "persona is RevOps"}, "all", "persona is RevOps"),
        ({"all": [{"id": "x", "type": "field_in", "field": "a", "values": ["1"]}, {"id": "x", "type": "field_in", "field": "b", "values": ["2"]}]}, "id", "x"),
        ("RevOps", "rules", "RevOps"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(rules, field, value):
    with pytest.raises(ValidationFailed) as caught:
        rules_parse(rules)
    assert (caught.value.field, caught.value.value) == (field, value)


def test_rules_read_as_sentences():
    assert rules_describe(LEADER) == ["Seniority is 'director' or 'vp / head'", "Job title contains 'Sales'"]
    assert rules_describe(REVOPS) == ["At least one of: Persona is 'RevOps'; or Job title contains 'RevOps' or 'Sales Operations'"]
