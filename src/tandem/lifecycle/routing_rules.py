"""Lead routing without the ORM: ordered rules choose the rep who gets a new MQL, and say why.

Rules are tried in order; the first that matches the person *and* has an available rep wins:
- ``territory``: the person's country / industry / size band is in the rule's lists (an empty list means
  "any"; at least one list is required) → a named rep, or round-robin within a team;
- ``named_account``: the owner of the person's account (fact ``account_owner_id``) gets the person;
- ``round_robin``: everyone reaching the rule → round-robin within a team;
- ``fallback``: must be last; a named rep or a team, for whatever nothing else took.

Decisions:
- An away rep is never chosen, by any rule: a territory naming an away rep, or a named account whose owner
  is away, falls through to the next rule (the explanation says so).
- Capacity weights round-robin only; capacity 0 means "never by round-robin" (a rep can still own named
  accounts or be named by a territory rule).
- Round-robin is weighted by capacity with Balinski and Young's quota method: a rep may take the next lead
  only while that keeps it within one lead above its exact share (count < (n + 1) · capacity / total), and
  among those the highest capacity / (count + 1) wins (ties: team order). After every lead each rep's count
  stays strictly within one lead of n · capacity / total, both above and below (smooth weighted
  round-robin, nginx's algorithm, can drift slightly beyond one lead for some capacity mixes, e.g.
  173, 1, 3, 5, 39, 199). The tallies live in ``RoundRobinState`` (JSON, per team), which the service
  persists after each assignment. The guarantee holds within each stretch during which the team's
  available reps and capacities stay the same; a change (someone away, back, joining, a new capacity)
  starts a new stretch, so a rep back from holiday is not flooded with catch-up leads.
- Text matching ignores case and surrounding spaces; a missing value never matches a non-empty list.
- When no rule yields a rep the assignment has ``rep_id`` None and explains every rule's reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from tandem.core.errors import ValidationFailed

RULE_KINDS: tuple[str, ...] = ("territory", "named_account", "round_robin", "fallback")
TERRITORY_FIELDS: tuple[str, ...] = ("country", "industry", "size_band")


def _norm(value: object) -> str:
    return "" if value is None else str(value).strip().casefold()


def _optional_int(data: Mapping[str, Any], key: str) -> int | None:
    raw = data.get(key)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ValidationFailed(f"'{key}' must be an id (a whole number).", field=key, value=raw)
    try:
        return int(raw)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: an infinite float from JSON's 1e999
        raise ValidationFailed(f"'{key}' must be an id (a whole number).", field=key, value=raw) from exc


def _words(data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    raw = data.get(key) or ()
    if isinstance(raw, str):
        raw = (raw,)
    if not isinstance(raw, Sequence):
        raise ValidationFailed(f"'{key}' must be a list.", field=key, value=raw)
    return tuple(str(v).strip() for v in raw if str(v).strip())


@dataclass(frozen=True)
class Rep:
    """A rep as routing sees them: away reps get nothing; capacity weights round-robin (0: never)."""

    id: int
    name: str = ""
    is_away: bool = False
    capacity: int = 100

    def __post_init__(self) -> None:
        if self.capacity < 0:
            raise ValidationFailed("Capacity must not be negative.", field="capacity", value=self.capacity)

    @property
    def label(self) -> str:
        return self.name or f"rep {self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "is_away": self.is_away, "capacity": self.capacity}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rep:
        rep_id = _optional_int(data, "id")
        if rep_id is None:
            raise ValidationFailed("A rep needs an id.", field="id", value=dict(data))
        capacity = _optional_int(data, "capacity")
        return cls(
            id=rep_id,
            name=str(data.get("name") or ""),
            is_away=bool(data.get("is_away", False)),
            capacity=100 if capacity is None else capacity,
        )


@dataclass(frozen=True)
class Team:
    """A team's members in a fixed order (the round-robin tie-break)."""

    id: int
    name: str = ""
    members: tuple[int, ...] = ()

    @property
    def label(self) -> str:
        return self.name or f"team {self.id}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "members": list(self.members)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Team:
        team_id = _optional_int(data, "id")
        if team_id is None:
            raise ValidationFailed("A team needs an id.", field="id", value=dict(data))
        members = data.get("members") or []
        try:
            ids = tuple(int(m) for m in members)
        except (TypeError, ValueError) as exc:
            raise ValidationFailed("Team members are rep ids.", field="members", value=members) from exc
        return cls(id=team_id, name=str(data.get("name") or ""), members=ids)


@dataclass(frozen=True)
class Roster:
    """Reps and teams at the moment of routing (built by the service from User and Team)."""

    reps: tuple[Rep, ...] = ()
    teams: tuple[Team, ...] = ()

    def rep(self, rep_id: int) -> Rep | None:
        return next((r for r in self.reps if r.id == rep_id), None)

    def team(self, team_id: int) -> Team | None:
        return next((t for t in self.teams if t.id == team_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {"reps": [r.to_dict() for r in self.reps], "teams": [t.to_dict() for t in self.teams]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Roster:
        return cls(
            reps=tuple(Rep.from_dict(r) for r in data.get("reps") or []),
            teams=tuple(Team.from_dict(t) for t in data.get("teams") or []),
        )


@dataclass(frozen=True)
class TeamTally:
    """Leads counted per rep since the team's available reps (and their capacities) last changed."""

    available: tuple[tuple[int, int], ...]
    counts: Mapping[int, int]

    def to_dict(self) -> dict[str, Any]:
        return {"available": [list(pair) for pair in self.available], "counts": {str(r): n for r, n in sorted(self.counts.items())}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TeamTally:
        available = tuple((int(rep), int(capacity)) for rep, capacity in data.get("available") or [])
        counts = {int(rep): int(n) for rep, n in (data.get("counts") or {}).items()}
        return cls(available=available, counts=counts)


@dataclass(frozen=True)
class RoundRobinState:
    """Round-robin tallies per team id (JSON-serialisable; the service stores it after each assignment)."""

    teams: Mapping[int, TeamTally] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # JSON object keys are strings.
        return {str(team): tally.to_dict() for team, tally in sorted(self.teams.items())}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoundRobinState:
        try:
            return cls({int(team): TeamTally.from_dict(tally) for team, tally in (data or {}).items()})
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValidationFailed(
                "Round-robin state maps team ids to {available: [[rep, capacity], ...], counts: {rep: n}}.",
                field="state",
                value=data,
            ) from exc


def _eligible(team: Team, roster: Roster) -> list[Rep]:
    return [r for r in (roster.rep(m) for m in team.members) if r is not None and not r.is_away and r.capacity > 0]


def round_robin_pick(team: Team, roster: Roster, state: RoundRobinState) -> tuple[Rep | None, RoundRobinState]:
    """One weighted round-robin step within `team` (the quota method); (None, same state) when nobody is available."""
    eligible = _eligible(team, roster)
    if not eligible:
        return None, state
    available = tuple((r.id, r.capacity) for r in eligible)
    tally = state.teams.get(team.id)
    # A change in who is available (or in a capacity) starts a new stretch: no catch-up bursts afterwards.
    counts = dict(tally.counts) if tally is not None and tally.available == available else {}
    total_weight = sum(r.capacity for r in eligible)
    handed_out = sum(counts.get(r.id, 0) for r in eligible)
    best: Rep | None = None
    for rep in eligible:
        given = counts.get(rep.id, 0)
        # Upper quota: after this lead the rep must not exceed its exact share by a whole lead.
        if given * total_weight >= (handed_out + 1) * rep.capacity:
            continue
        # Jefferson priority capacity / (given + 1), compared exactly; ties go to the earlier team member.
        if best is None or rep.capacity * (counts.get(best.id, 0) + 1) > best.capacity * (given + 1):
            best = rep
    if best is None:  # cannot happen (shares sum to the lead count), kept as a guard
        best = eligible[0]
    counts[best.id] = counts.get(best.id, 0) + 1
    updated = dict(state.teams)
    updated[team.id] = TeamTally(available=available, counts=counts)
    return best, RoundRobinState(updated)


@dataclass(frozen=True)
class RoutingRule:
    """One ordered rule (see the module docstring for the kinds)."""

    id: str
    kind: str
    label: str = ""
    countries: tuple[str, ...] = ()
    industries: tuple[str, ...] = ()
    size_bands: tuple[str, ...] = ()
    team_id: int | None = None
    rep_id: int | None = None

    def __post_init__(self) -> None:
        if not self.id.strip():
            raise ValidationFailed("Every routing rule needs an id.", field="id", value=self.id)
        if self.kind not in RULE_KINDS:
            raise ValidationFailed(f"Unknown routing rule kind; use one of {', '.join(RULE_KINDS)}.", field="kind", value=self.kind)
        if self.kind == "territory" and not (self.countries or self.industries or self.size_bands):
            raise ValidationFailed("A territory needs countries, industries or size bands.", field="countries", value=self.id)
        if self.kind != "territory" and (self.countries or self.industries or self.size_bands):
            raise ValidationFailed("Only territory rules have countries, industries or size bands.", field="countries", value=self.id)
        if self.kind in ("territory", "fallback") and (self.team_id is None) == (self.rep_id is None):
            raise ValidationFailed(f"A {self.kind} rule sends people to a team or to a rep (one of the two).", field="team_id", value=self.id)
        if self.kind == "round_robin" and (self.team_id is None or self.rep_id is not None):
            raise ValidationFailed("A round-robin rule needs a team (and no rep).", field="team_id", value=self.id)
        if self.kind == "named_account" and (self.team_id is not None or self.rep_id is not None):
            raise ValidationFailed("A named-account rule sends people to their account's owner, not to a team or rep.", field="team_id", value=self.id)

    @property
    def title(self) -> str:
        return self.label or self.id

    def matches(self, person_facts: Mapping[str, Any]) -> bool:
        if self.kind != "territory":
            return True
        for name, wanted in zip(TERRITORY_FIELDS, (self.countries, self.industries, self.size_bands), strict=True):
            if wanted and _norm(person_facts.get(name)) not in {_norm(w) for w in wanted}:
                return False
        return True

    def describe(self) -> str:
        """Plain words for the rules page."""
        if self.kind == "named_account":
            return f"{self.title}: people at a named account go to the account's owner"
        target = f"rep {self.rep_id}" if self.rep_id is not None else f"round-robin in team {self.team_id}"
        if self.kind == "round_robin":
            return f"{self.title}: everyone goes to {target}"
        if self.kind == "fallback":
            return f"{self.title}: anyone left goes to {target}"
        parts = [
            f"{name.replace('_', ' ')} is {' or '.join(values)}"
            for name, values in zip(TERRITORY_FIELDS, (self.countries, self.industries, self.size_bands), strict=True)
            if values
        ]
        return f"{self.title}: when {' and '.join(parts)}, send to {target}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "countries": list(self.countries),
            "industries": list(self.industries),
            "size_bands": list(self.size_bands),
            "team_id": self.team_id,
            "rep_id": self.rep_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, default_id: str = "") -> RoutingRule:
        if not isinstance(data, Mapping):
            raise ValidationFailed("A routing rule must be an object.", field="rules", value=data)
        return cls(
            id=str(data.get("id") or default_id),
            kind=str(data.get("kind") or ""),
            label=str(data.get("label") or ""),
            countries=_words(data, "countries"),
            industries=_words(data, "industries"),
            size_bands=_words(data, "size_bands"),
            team_id=_optional_int(data, "team_id"),
            rep_id=_optional_int(data, "rep_id"),
        )


@dataclass(frozen=True)
class RoutingRules:
    """The ordered rule list, as stored (one version per change)."""

    rules: tuple[RoutingRule, ...]
    version: int = 1

    def __post_init__(self) -> None:
        if not self.rules:
            raise ValidationFailed("Routing needs at least one rule.", field="rules", value=None)
        ids = [r.id for r in self.rules]
        duplicate = next((i for i in ids if ids.count(i) > 1), None)
        if duplicate is not None:
            raise ValidationFailed("Routing rule ids must be unique.", field="id", value=duplicate)
        fallbacks = [i for i, r in enumerate(self.rules) if r.kind == "fallback"]
        if fallbacks and fallbacks != [len(self.rules) - 1]:
            raise ValidationFailed("There is at most one fallback rule, and it comes last.", field="kind", value="fallback")

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "rules": [r.to_dict() for r in self.rules]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutingRules:
        raw = data.get("rules")
        if not isinstance(raw, Sequence) or isinstance(raw, str):
            raise ValidationFailed("'rules' must be a list of routing rules.", field="rules", value=raw)
        version = _optional_int(data, "version")
        return cls(
            rules=tuple(RoutingRule.from_dict(r, default_id=f"rule-{i + 1}") for i, r in enumerate(raw)),
            version=1 if version is None else version,
        )

    def describe(self) -> list[str]:
        return [f"{i + 1}. {rule.describe()}" for i, rule in enumerate(self.rules)]


@dataclass(frozen=True)
class Assignment:
    """Who gets the person, by which rule, and why (``rep_id`` None: nobody was available)."""

    rep_id: int | None
    rule_id: str | None
    rule_label: str
    explanation: str
    team_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rep_id": self.rep_id,
            "rule_id": self.rule_id,
            "rule_label": self.rule_label,
            "explanation": self.explanation,
            "team_id": self.team_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Assignment:
        return cls(
            rep_id=_optional_int(data, "rep_id"),
            rule_id=None if data.get("rule_id") is None else str(data["rule_id"]),
            rule_label=str(data.get("rule_label") or ""),
            explanation=str(data.get("explanation") or ""),
            team_id=_optional_int(data, "team_id"),
        )


@dataclass(frozen=True)
class Routed:
    assignment: Assignment
    state: RoundRobinState


def _named_rep(rule: RoutingRule, rep_id: int, roster: Roster, why: str) -> tuple[Rep | None, str]:
    rep = roster.rep(rep_id)
    if rep is None:
        return None, f"{rule.title}: {why} rep {rep_id} is not a known rep"
    if rep.is_away:
        return None, f"{rule.title}: {why} {rep.label} is away"
    return rep, f"{rule.title}: {why} {rep.label}"


def route(
    person_facts: Mapping[str, Any], rules: RoutingRules, roster: Roster, state: RoundRobinState
) -> Routed:
    """Assign one person: the first rule that matches and has an available rep wins; returns the new state."""
    reasons: list[str] = []
    for rule in rules.rules:
        if not rule.matches(person_facts):
            reasons.append(f"{rule.title}: does not match")
            continue
        if rule.kind == "named_account":
            owner = person_facts.get("account_owner_id")
            if owner is None or owner == "":
                reasons.append(f"{rule.title}: no account owner")
                continue
            try:
                owner_id = int(owner)
            except (TypeError, ValueError):
                reasons.append(f"{rule.title}: account owner {owner!r} is not a rep id")
                continue
            rep, reason = _named_rep(rule, owner_id, roster, "account owner")
        elif rule.rep_id is not None:
            rep, reason = _named_rep(rule, rule.rep_id, roster, "named")
        else:
            team = roster.team(int(rule.team_id or 0))
            if team is None:
                reasons.append(f"{rule.title}: team {rule.team_id} is not a known team")
                continue
            rep, state = round_robin_pick(team, roster, state)
            reason = (
                f"{rule.title}: round-robin in {team.label} chose {rep.label} (capacity {rep.capacity})"
                if rep is not None
                else f"{rule.title}: nobody in {team.label} is available"
            )
        reasons.append(reason)
        if rep is not None:
            assignment = Assignment(rep.id, rule.id, rule.title, "; ".join(reasons), team_id=rule.team_id)
            return Routed(assignment, state)
    return Routed(Assignment(None, None, "", "; ".join(reasons) or "no rules"), state)


def reroute(
    person_facts: Mapping[str, Any], rules: RoutingRules, roster: Roster, state: RoundRobinState, *, exclude_rep_id: int
) -> Routed:
    """Assign a person again by the same rules, never to `exclude_rep_id` (an SLA re-route).

    The excluded rep is treated as away for this one lead only: the team's round-robin stretch is not
    restarted (that would undo its fairness), but the chosen rep is charged the lead in the tallies.
    """
    without = Roster(
        reps=tuple(replace(r, is_away=True) if r.id == exclude_rep_id else r for r in roster.reps), teams=roster.teams
    )
    # The temporary stretch keeps the others' counts, so the rep furthest below its share gets the lead.
    temporary = RoundRobinState(
        {
            team_id: TeamTally(
                available=tuple(pair for pair in tally.available if pair[0] != exclude_rep_id),
                counts={rep: n for rep, n in tally.counts.items() if rep != exclude_rep_id},
            )
            for team_id, tally in state.teams.items()
        }
    )
    routed = route(person_facts, rules, without, temporary)
    chosen = routed.assignment
    if chosen.rep_id is None:
        return Routed(chosen, state)
    teams = dict(state.teams)
    for team_id, tally in routed.state.teams.items():
        team = roster.team(team_id)
        if team is None or tally is temporary.teams.get(team_id):
            continue  # this team's round-robin did not choose
        # Charge the lead in the real stretch, as ordinary routing would (a new stretch when the team changed).
        available = tuple((r.id, r.capacity) for r in _eligible(team, roster))
        before = state.teams.get(team_id)
        counts = dict(before.counts) if before is not None and before.available == available else {}
        counts[chosen.rep_id] = counts.get(chosen.rep_id, 0) + 1
        teams[team_id] = TeamTally(available=available, counts=counts)
    return Routed(chosen, RoundRobinState(teams))


def rules_check(rules: RoutingRules, roster: Roster) -> list[str]:
    """Warnings for the rules page: unknown teams or reps, and a missing fallback."""
    warnings: list[str] = []
    for rule in rules.rules:
        if rule.team_id is not None and roster.team(rule.team_id) is None:
            warnings.append(f"{rule.title}: team {rule.team_id} does not exist")
        if rule.rep_id is not None and roster.rep(rule.rep_id) is None:
            warnings.append(f"{rule.title}: rep {rule.rep_id} does not exist")
    if rules.rules[-1].kind != "fallback":
        warnings.append("There is no fallback rule: people no rule takes stay unassigned")
    return warnings
