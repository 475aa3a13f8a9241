from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.core.errors import ValidationFailed
from tandem.lifecycle.routing_rules import (
    Assignment,
    Rep,
    Roster,
    RoundRobinState,
    RoutingRules,
    Team,
    round_robin_pick,
    route,
    rules_check,
)

ROSTER = Roster(
    reps=(
        Rep(1, "Anna", capacity=100),
        Rep(2, "Ben", capacity=100),
        Rep(3, "Chloé", capacity=50),
        Rep(4, "Dev", capacity=100),
        Rep(9, "Queue owner", capacity=0),
    ),
    teams=(Team(10, "DACH", (1, 2)), Team(20, "Rest of world", (3, 4))),
)
RULES = RoutingRules.from_dict(
    {
        "version": 3,
        "rules": [
            {"id": "named", "kind": "named_account", "label": "Named accounts"},
            {"id": "enterprise", "kind": "territory", "label": "Enterprise", "size_bands": ["5001+"], "rep_id": 4},
            {"id": "dach", "kind": "territory", "label": "DACH", "countries": ["DE", "AT", "CH"], "team_id": 10},
            {"id": "row", "kind": "round_robin", "label": "Everyone else", "team_id": 20},
            {"id": "fallback", "kind": "fallback", "label": "Queue", "rep_id": 9},
        ],
    }
)


def test_rules_are_tried_in_order_and_the_assignment_says_why() -> None:
    # given a German enterprise lead with no account owner
    facts = {"country": "de", "size_band": "5001+"}
    # when
    routed = route(facts, RULES, ROSTER, RoundRobinState())
    # then the enterprise rule comes before DACH
    assert routed.assignment == Assignment(
        rep_id=4,
        rule_id="enterprise",
        rule_label="Enterprise",
        explanation="Named accounts: no account owner; Enterprise: named Dev",
        team_id=None,
    )


def test_a_territory_match_goes_round_robin_within_its_team() -> None:
    # given two Austrian leads
    facts = {"country": "AT", "size_band": "11-50"}
    # when
    first = route(facts, RULES, ROSTER, RoundRobinState())
    second = route(facts, RULES, ROSTER, first.state)
    # then Anna then Ben (equal capacity: team order breaks the tie, then alternation)
    assert (first.assignment.rep_id, second.assignment.rep_id) == (1, 2)
    assert first.assignment.team_id == 10
    assert first.assignment.explanation == (
        "Named accounts: no account owner; Enterprise: does not match; DACH: round-robin in DACH chose Anna (capacity 100)"
    )


def test_the_account_owner_gets_people_at_named_accounts_unless_away() -> None:
    # given a French person whose account is owned by Ben
    facts = {"country": "FR", "account_owner_id": 2}
    away = Roster(reps=tuple(Rep(r.id, r.name, is_away=r.id == 2, capacity=r.capacity) for r in ROSTER.reps), teams=ROSTER.teams)
    # when
    present = route(facts, RULES, ROSTER, RoundRobinState())
    absent = route(facts, RULES, away, RoundRobinState())
    # then
    assert (present.assignment.rep_id, present.assignment.rule_id) == (2, "named")
    assert present.assignment.explanation == "Named accounts: account owner Ben"
    assert (absent.assignment.rep_id, absent.assignment.rule_id) == (4, "row")
    assert absent.assignment.explanation.startswith("Named accounts: account owner Ben is away; Enterprise: does not match; DACH")


def test_when_a_team_is_all_away_the_fallback_takes_the_lead_and_otherwise_nobody_does() -> None:
    # given the rest-of-world team away
    roster = Roster(
        reps=tuple(Rep(r.id, r.name, is_away=r.id in (3, 4), capacity=r.capacity) for r in ROSTER.reps), teams=ROSTER.teams
    )
    no_fallback = RoutingRules(rules=RULES.rules[:-1])
    # when
    routed = route({"country": "US"}, RULES, roster, RoundRobinState())
    stuck = route({"country": "US"}, no_fallback, roster, RoundRobinState())
    # then
    assert (routed.assignment.rep_id, routed.assignment.rule_id) == (9, "fallback")
    assert "Everyone else: nobody in Rest of world is available" in routed.assignment.explanation
    assert stuck.assignment.rep_id is None and stuck.assignment.rule_id is None
    assert rules_check(no_fallback, roster) == ["There is no fallback rule: people no rule takes stay unassigned"]


def test_weighted_round_robin_follows_the_quota_method_sequence() -> None:
    # given capacities 5, 1, 1
    roster = Roster(reps=(Rep(1, "a", capacity=5), Rep(2, "b", capacity=1), Rep(3, "c", capacity=1)), teams=(Team(1, "t", (1, 2, 3)),))
    state = RoundRobinState()
    picks = []
    # when
    for _ in range(14):
        rep, state = round_robin_pick(roster.teams[0], roster, state)
        assert rep is not None
        picks.append(rep.name)
    # then by hand (n leads so far; a rep may take lead n+1 while count·7 < (n+1)·capacity; highest
    # capacity/(count+1) wins, ties to the earlier member): n=3 a is at its quota, b and c tie at 1 -> b;
    # n=5 a (5/5) and c (1/1) tie -> a; n=6 only c is below quota -> c
    assert "".join(picks) == "aaabaac" * 2
    assert state.teams[1].counts == {1: 10, 2: 2, 3: 2}
    assert state.teams[1].available == ((1, 5), (2, 1), (3, 1))


def test_one_thousand_leads_split_3_2_1_exactly() -> None:
    # given capacities 3, 2, 1 in one team
    roster = Roster(reps=(Rep(1, capacity=3), Rep(2, capacity=2), Rep(3, capacity=1)), teams=(Team(1, "t", (1, 2, 3)),))
    rules = RoutingRules.from_dict({"rules": [{"kind": "round_robin", "team_id": 1}]})
    state = RoundRobinState()
    counts: Counter[int | None] = Counter()
    # when
    for _ in range(1000):
        routed = route({}, rules, roster, state)
        state = routed.state
        counts[routed.assignment.rep_id] += 1
    # then after 996 leads the counts are exactly 498, 332, 166 (the share is a whole number); by hand the
    # last four go: a (3/499 highest), b (a at quota), a (3/500 > 1/167), b (b 2/334 ties c 1/167: earlier member)
    assert counts == Counter({1: 500, 2: 334, 3: 166})


def test_one_thousand_leads_skip_the_away_rep_and_the_zero_capacity_rep() -> None:
    # given capacities 100, 60, 40, an away rep and a capacity-0 rep
    roster = Roster(
        reps=(Rep(1, capacity=100), Rep(2, capacity=60), Rep(3, capacity=40), Rep(4, is_away=True, capacity=100), Rep(5, capacity=0)),
        teams=(Team(7, "t", (1, 2, 3, 4, 5)),),
    )
    rules = RoutingRules.from_dict({"rules": [{"kind": "round_robin", "team_id": 7}]})
    state = RoundRobinState()
    counts: Counter[int | None] = Counter()
    # when
    for _ in range(1000):
        routed = route({}, rules, roster, state)
        state = routed.state
        counts[routed.assignment.rep_id] += 1
    # then exactly 50 %, 30 %, 20 % (1000 is 5 cycles of 200)
    assert counts == Counter({1: 500, 2: 300, 3: 200})


@settings(max_examples=60, deadline=None)
@given(capacities=st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=6))
def test_every_prefix_of_1000_leads_is_within_one_lead_of_the_capacity_share(capacities: list[int]) -> None:
    # given a team with arbitrary capacities
    reps = tuple(Rep(i + 1, capacity=c) for i, c in enumerate(capacities))
    team = Team(1, "t", tuple(r.id for r in reps))
    roster = Roster(reps=reps, teams=(team,))
    total = sum(capacities)
    state = RoundRobinState()
    counts = dict.fromkeys(team.members, 0)
    # when / then after every lead each rep's count is strictly within one of its exact share n·c/total
    for n in range(1, 1001):
        rep, state = round_robin_pick(team, roster, state)
        assert rep is not None
        counts[rep.id] += 1
        for r in reps:
            assert abs(counts[r.id] * total - n * r.capacity) < total


def test_capacities_where_smooth_weighted_round_robin_drifts_stay_within_one_lead() -> None:
    # given capacities for which nginx's smooth weighted round-robin is 227/210 of a lead off after 226 leads
    capacities = (173, 1, 3, 5, 39, 199)
    reps = tuple(Rep(i + 1, capacity=c) for i, c in enumerate(capacities))
    team = Team(1, "t", tuple(r.id for r in reps))
    roster = Roster(reps=reps, teams=(team,))
    state = RoundRobinState()
    counts = dict.fromkeys(team.members, 0)
    worst = Fraction(0)
    # when
    for n in range(1, 1001):
        rep, state = round_robin_pick(team, roster, state)
        assert rep is not None
        counts[rep.id] += 1
        worst = max(worst, *(abs(counts[r.id] - Fraction(n * r.capacity, 420)) for r in reps))
    # then
    assert worst < 1


def test_persisted_state_continues_the_same_sequence() -> None:
    # given 7 leads routed in one go, and the same 7 with the state saved to JSON and reloaded after each
    roster = Roster(reps=(Rep(1, capacity=3), Rep(2, capacity=2), Rep(3, capacity=2)), teams=(Team(5, "t", (1, 2, 3)),))
    continuous, reloaded = RoundRobinState(), RoundRobinState()
    a: list[int | None] = []
    b: list[int | None] = []
    # when
    for _ in range(7):
        rep, continuous = round_robin_pick(roster.teams[0], roster, continuous)
        a.append(rep.id if rep else None)
        rep, reloaded = round_robin_pick(roster.teams[0], roster, reloaded)
        b.append(rep.id if rep else None)
        reloaded = RoundRobinState.from_dict(json.loads(json.dumps(reloaded.to_dict())))
    # then (by hand: a first; a at quota so b over c by order; c (2/1) over a (3/2); a (3/2); a, b, c tie at 1
    # -> a; a at quota, b and c tie -> b; only c below quota -> c)
    assert a == b == [1, 2, 3, 1, 1, 2, 3]
    assert continuous.to_dict() == {"5": {"available": [[1, 3], [2, 2], [3, 2]], "counts": {"1": 3, "2": 2, "3": 2}}}


def test_a_change_in_who_is_available_starts_a_new_stretch() -> None:
    # given rep 1 far ahead while reps 1, 2 and 3 were available, and now rep 3 is away
    roster = Roster(reps=(Rep(1), Rep(2), Rep(3, is_away=True)), teams=(Team(5, "t", (1, 2, 3)),))
    state = RoundRobinState.from_dict({"5": {"available": [[1, 100], [2, 100], [3, 100]], "counts": {"1": 9, "2": 0, "3": 0}}})
    # when
    rep, new_state = round_robin_pick(roster.teams[0], roster, state)
    # then the old tally is dropped (no catch-up for rep 2): the new stretch starts with the first member
    assert rep is not None and rep.id == 1
    assert new_state.teams[5].counts == {1: 1}
    assert new_state.teams[5].available == ((1, 100), (2, 100))


def test_rules_roster_and_assignment_round_trip_through_json() -> None:
    # given
    routed = route({"country": "CH"}, RULES, ROSTER, RoundRobinState())
    # when / then
    assert RoutingRules.from_dict(json.loads(json.dumps(RULES.to_dict()))) == RULES
    assert Roster.from_dict(json.loads(json.dumps(ROSTER.to_dict()))) == ROSTER
    assert Assignment.from_dict(json.loads(json.dumps(routed.assignment.to_dict()))) == routed.assignment
    assert RULES.describe() == [
        "1. Named accounts: people at a named account go to the account's owner",
        "2. Enterprise: when size band is 5001+, send to rep 4",
        "3. DACH: when country is DE or AT or CH, send to round-robin in team 10",
        "4. Everyone else: everyone goes to round-robin in team 20",
        "5. Queue: anyone left goes to rep 9",
    ]


def test_rules_check_names_unknown_teams_and_reps() -> None:
    # given rules pointing at team 99 and rep 77
    rules = RoutingRules.from_dict(
        {"rules": [{"id": "x", "kind": "round_robin", "team_id": 99}, {"id": "y", "kind": "fallback", "rep_id": 77}]}
    )
    # when / then
    assert rules_check(rules, ROSTER) == ["x: team 99 does not exist", "y: rep 77 does not exist"]
    assert route({}, rules, ROSTER, RoundRobinState()).assignment.explanation == (
        "x: team 99 is not a known team; y: named rep 77 is not a known rep"
    )


@pytest.mark.parametrize(
    ("rules", "field"),
    [
        ([{"kind": "magic"}], "kind"),
        ([{"kind": "territory", "team_id": 1}], "countries"),
        ([{"kind": "territory", "countries": ["DE"]}], "team_id"),
        ([{"kind": "territory", "countries": ["DE"], "team_id": 1, "rep_id": 2}], "team_id"),
        ([{"kind": "round_robin"}], "team_id"),
        ([{"kind": "round_robin", "team_id": "sales"}], "team_id"),
        ([{"kind": "named_account", "rep_id": 3}], "team_id"),
        ([{"kind": "named_account", "countries": ["DE"]}], "countries"),
        ([{"kind": "fallback", "rep_id": 1}, {"kind": "named_account"}], "kind"),
        ([{"id": "a", "kind": "named_account"}, {"id": "a", "kind": "named_account"}], "id"),
        ([], "rules"),
        ("everything", "rules"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(rules: Any, field: str) -> None:
    # given / when
    with pytest.raises(ValidationFailed) as caught:
        RoutingRules.from_dict({"rules": rules})
    # then
    assert caught.value.field == field


def test_negative_capacity_and_bad_state_are_refused() -> None:
    # given / when / then
    with pytest.raises(ValidationFailed) as capacity:
        Rep.from_dict({"id": 1, "capacity": -5})
    assert capacity.value.field == "capacity"
    with pytest.raises(ValidationFailed) as state:
        RoundRobinState.from_dict({"1": {"available": [[2, 100]], "counts": {"2": "lots"}}})
    assert state.value.field == "state"


def test_an_account_owner_that_is_not_a_rep_id_falls_through() -> None:
    # given a malformed owner id
    facts = {"country": "US", "account_owner_id": "someone"}
    # when
    routed = route(facts, RULES, ROSTER, RoundRobinState())
    # then
    assert routed.assignment.rule_id == "row"
    assert routed.assignment.explanation.startswith("Named accounts: account owner 'someone' is not a rep id; ")
