"""The editors in words: definitions, routing rules and the SLA policy as plain form fields, and back. No ORM.

The pages show each rule as the sentence it reads as ("At least [3] touchpoints of kind [...] in the last
[30] days"), one input per blank. These functions turn a spec into those fields (``*_form_from_spec``), read
the posted fields (``*_form_from_post``) and build the spec the publish services take (``*_form_spec``),
naming the clause, the field and the value of every mistake next to the input that holds it.

Decisions:
- Lists (values, keywords, kinds, countries, campaign ids…) are one line separated by commas (a line break
  separates too); an item holding a comma, a double quote or a line break is written in double quotes,
  CSV style (``"Acme, Inc."``), so every item comes back as it was.
- Numbers are written so that reading them back gives the same float (integers without ".0"); the SLA's
  MQL→SQL minimum is shown in per cent and converted in decimal, so 0.07 stays 0.07 and not 0.0700…01.
- Round trip: for every spec the services accept, the fields made from its stored form read back into the
  same stored spec (``tests/lifecycle/test_editors.py`` checks it with hypothesis and on the pages). A
  browser drops line breaks typed into one-line boxes, so a label or list item holding one (possible only
  through the API's JSON) loses it when saved from a page; the note is a text area and keeps them.
- Inputs the chosen type or operator does not read are not shown and not sent: switching "between" to
  "at least" forgets the bounds, as the stored form does (``criteria`` drops them too).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from tandem.core.errors import TandemError, ValidationFailed
from tandem.lifecycle.criteria import (
    CRITERION_TYPES,
    Definition,
    criterion_from_dict,
    definition_describe,
    note_lines,
)
from tandem.lifecycle.routing_rules import RULE_KINDS, RoutingRule, RoutingRules
from tandem.lifecycle.sla_rules import SlaPolicy

GROUPS: tuple[str, ...] = ("all", "any")
# More clauses or rules than this in one form is not an agreement anyone can read.
MAX_ROWS = 100

# --- text of lists and numbers -----------------------------------------------------------------------------


def list_text(items: Iterable[Any]) -> str:
    """Items as one comma-separated line; an item with a comma, quote or line break goes in double quotes."""
    out = []
    for item in items:
        text = str(item)
        if any(ch in text for ch in ',"\r\n'):
            text = '"' + text.replace('"', '""') + '"'
        out.append(text)
    return ", ".join(out)


def list_items(text: str, *, name: str) -> list[str]:
    """The items of a comma-separated line (CSV quoting; blanks dropped, spaces around items trimmed)."""
    if not text.strip():
        return []
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), skipinitialspace=True, strict=False))
    except csv.Error as exc:
        raise ValidationFailed(f"{name}: {exc}", field=name, value=text[:80]) from exc
    return [item.strip() for row in rows for item in row if item.strip()]


def number_text(value: float | int | None) -> str:
    """A number as text that reads back to the same value ("4", "0.25", "1e+20"); None is blank."""
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if value == 0 and math.copysign(1.0, value) < 0:
        return "-0"
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(value)


def percent_text(share: float | None) -> str:
    """A share (0.25) as per cent text ("25"), exactly: decimal arithmetic, not float."""
    if share is None:
        return ""
    return format(Decimal(repr(share)).scaleb(2).normalize(), "f")


def percent_share(text: str, *, name: str) -> float | None:
    """Per cent text ("25", "7.5") as a share (0.25, 0.075); blank is None."""
    raw = text.strip().removesuffix("%").strip()
    if not raw:
        return None
    try:
        number = Decimal(raw)
    except InvalidOperation as exc:
        raise ValidationFailed(f"'{name}' is a per cent such as 25.", field=name, value=text) from exc
    if not number.is_finite():
        raise ValidationFailed(f"'{name}' is a per cent such as 25.", field=name, value=text)
    if not 0 < number <= 100:
        raise ValidationFailed("The minimum MQL→SQL rate is more than 0 and at most 100 %.", field=name, value=text)
    return float(number.scaleb(-2))


def _error_text(exc: TandemError) -> str:
    shown = "" if exc.value is None else str(exc.value)
    if len(shown) > 80:
        shown = shown[:77] + "…"
    return f"{exc.message} (value: {shown})" if shown else exc.message


# --- definitions ---------------------------------------------------------------------------------------------

TYPE_LABELS: dict[str, str] = {
    "field_in": "a profile field is one of…",
    "field_not_in": "a profile field is not…",
    "number": "a number (score, probability, field) compares…",
    "fit_grade": "the fit grade is…",
    "title_keywords": "the job title contains…",
    "consent": "the person has consented to…",
    "touchpoint": "has a touchpoint of kind…",
    "touchpoint_count": "at least N touchpoints…",
}
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "field_in": ("field", "values"),
    "field_not_in": ("field", "values"),
    "number": ("field", "op", "value", "low", "high"),
    "fit_grade": ("field", "op", "grade", "low", "high"),
    "title_keywords": ("field", "keywords", "exclude"),
    "consent": ("channel",),
    "touchpoint": ("kinds", "channels", "campaign_ids", "days"),
    "touchpoint_count": ("min_count", "kinds", "channels", "campaign_ids", "days"),
}
LIST_FIELDS = frozenset({"values", "keywords", "exclude", "kinds", "channels", "campaign_ids"})
NUMBER_FIELDS = frozenset({"value", "days", "min_count"})
# Inputs a new clause (or a clause whose type just changed) starts with.
DEFAULTS: dict[str, dict[str, str]] = {
    "field_in": {"field": "industry", "values": ""},
    "field_not_in": {"field": "country", "values": ""},
    "number": {"field": "engagement_score", "op": ">=", "value": "", "low": "", "high": ""},
    "fit_grade": {"field": "fit_grade", "op": ">=", "grade": "B", "low": "C", "high": "A"},
    "title_keywords": {"field": "job_title", "keywords": "", "exclude": ""},
    "consent": {"channel": "email"},
    "touchpoint": {"kinds": "demo_request", "channels": "", "campaign_ids": "", "days": "30"},
    "touchpoint_count": {"min_count": "3", "kinds": "", "channels": "", "campaign_ids": "", "days": "30"},
}
# Fact names offered in the field boxes (any other name is a custom field; account ones are "account.<name>").
FACTS: tuple[str, ...] = (
    "industry", "size_band", "country", "job_title", "fit_grade", "engagement_score", "predictive_probability",
)


def _shown_fields(kind: str, op: str) -> tuple[str, ...]:
    """The inputs a clause of this type and operator shows (and sends)."""
    names = TYPE_FIELDS[kind]
    if kind == "number":
        return tuple(n for n in names if n not in (("value",) if op == "between" else ("low", "high")))
    if kind == "fit_grade":
        return tuple(n for n in names if n not in (("grade",) if op == "between" else ("low", "high")))
    return names


@dataclass
class Clause:
    """One criterion as typed: its group, its type and the raw text of each input."""

    group: str
    type: str
    fields: dict[str, str]
    index: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    sentence: str = ""

    @property
    def prefix(self) -> str:
        return f"c{self.index}-"

    @property
    def shown(self) -> tuple[str, ...]:
        return ("id", "label", *_shown_fields(self.type, self.fields.get("op", "")))

    @property
    def other_errors(self) -> list[str]:
        """Errors about inputs this clause does not show (they go above the clause)."""
        return [f"{name}: {text}" for name, text in self.errors.items() if name not in self.shown and name != "type"]

    def to_dict(self) -> dict[str, Any]:
        """The criterion as the services read it (raw numbers as text: the criteria module parses them)."""
        out: dict[str, Any] = {"id": self.fields.get("id", ""), "type": self.type, "label": self.fields.get("label", "")}
        for name in _shown_fields(self.type, self.fields.get("op", "")):
            raw = self.fields.get(name, "")
            if name in LIST_FIELDS:
                out[name] = list_items(raw, name=name)
            elif name in NUMBER_FIELDS or name in ("low", "high"):
                out[name] = raw.strip() or None
            else:
                out[name] = raw
        return out


@dataclass
class DefinitionForm:
    """A definition as typed in the editor: clauses in the two groups and the note."""

    stage: str
    clauses: list[Clause]
    note: str = ""
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.renumber()

    def renumber(self) -> None:
        # The groups are shown one after the other; numbering follows that order.
        self.clauses = [c for g in GROUPS for c in self.clauses if c.group == g]
        for i, clause in enumerate(self.clauses):
            clause.index = i

    def group(self, name: str) -> list[Clause]:
        return [c for c in self.clauses if c.group == name]

    @property
    def all_of(self) -> list[Clause]:
        return self.group("all")

    @property
    def any_of(self) -> list[Clause]:
        return self.group("any")

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(c.errors for c in self.clauses)

    def to_post(self) -> dict[str, str]:
        """The fields the page sends for this form (what its inputs hold)."""
        out = {"stage": self.stage, "note": self.note}
        for c in self.clauses:
            out[f"{c.prefix}group"] = c.group
            out[f"{c.prefix}type"] = c.type
            for name in c.shown:
                out[f"{c.prefix}{name}"] = c.fields.get(name, "")
        return out

    def add(self, *, group: str, kind: str) -> Clause:
        if group not in GROUPS:
            raise ValidationFailed("Clauses go in 'all' or 'any'.", field="group", value=group)
        if kind not in CRITERION_TYPES:
            raise ValidationFailed(f"Unknown criterion type; use one of {', '.join(CRITERION_TYPES)}.", field="type", value=kind)
        if len(self.clauses) >= MAX_ROWS:
            raise ValidationFailed(f"A definition has at most {MAX_ROWS} criteria.", field="all", value=len(self.clauses))
        taken = {c.fields.get("id", "") for c in self.clauses}
        base = kind.replace("_", "-")
        number = next(n for n in range(1, MAX_ROWS + 2) if f"{base}-{n}" not in taken)
        clause = Clause(group=group, type=kind, fields={"id": f"{base}-{number}", "label": "", **DEFAULTS[kind]})
        self.clauses.append(clause)
        self.renumber()
        return clause

    def remove(self, index: int) -> None:
        self.clauses = [c for c in self.clauses if c.index != index]
        self.renumber()

    def move(self, index: int) -> None:
        """Move a clause to the other group (all ↔ any), at its end."""
        for c in self.clauses:
            if c.index == index:
                self.clauses.remove(c)
                c.group = "any" if c.group == "all" else "all"
                self.clauses.append(c)
                break
        self.renumber()


def _clause_from_criterion(group: str, data: Mapping[str, Any]) -> Clause:
    kind = str(data["type"])
    fields = {"id": str(data.get("id", "")), "label": str(data.get("label") or "")}
    for name in _shown_fields(kind, str(data.get("op") or "")):
        value = data.get(name)
        if name in LIST_FIELDS:
            fields[name] = list_text(value or ())
        elif isinstance(value, float | int) and not isinstance(value, bool):
            fields[name] = number_text(value)
        else:
            fields[name] = "" if value is None else str(value)
    return Clause(group=group, type=kind, fields=fields)


def definition_form_from_spec(*, stage: str, spec: Mapping[str, Any]) -> DefinitionForm:
    """The editor's fields for a definition spec (read in its stored form first, as the services store it)."""
    stored = Definition.from_dict({**spec, "name": stage, "version": 1}).to_dict()
    clauses = [_clause_from_criterion(group, item) for group in GROUPS for item in stored[group]]
    form = DefinitionForm(stage=stage, clauses=clauses, note=stored["note"])
    definition_form_check(form)
    return form


_CLAUSE_KEY = re.compile(r"^c(\d{1,4})-type$")


def definition_form_from_post(post: Mapping[str, Any], *, stage: str) -> DefinitionForm:
    """The editor's fields as posted (keys c<i>-<input>); a changed type starts with that type's defaults."""
    indices = sorted(int(m.group(1)) for key in post if (m := _CLAUSE_KEY.match(str(key))))
    clauses: list[Clause] = []
    errors: list[str] = []
    if len(indices) > MAX_ROWS:
        errors.append(f"A definition has at most {MAX_ROWS} criteria (value: {len(indices)}).")
        indices = indices[:MAX_ROWS]
    for i in indices:
        prefix = f"c{i}-"
        kind = str(post.get(f"{prefix}type", ""))
        group = str(post.get(f"{prefix}group", "all"))
        clause = Clause(group=group if group in GROUPS else "all", type=kind, fields={})
        if kind not in CRITERION_TYPES:
            clause.errors["type"] = f"Unknown criterion type (value: {kind[:40]})."
            clause.type = "field_in"
        defaults = DEFAULTS[clause.type]
        names = ("id", "label", *TYPE_FIELDS[clause.type])
        clause.fields = {n: str(post[f"{prefix}{n}"]) if f"{prefix}{n}" in post else defaults.get(n, "") for n in names}
        clauses.append(clause)
    return DefinitionForm(stage=stage, clauses=clauses, note=note_lines(str(post.get("note", ""))), errors=errors)


def definition_form_check(form: DefinitionForm) -> dict[str, Any] | None:
    """Check every clause (errors go on the clause and input they concern) and return the spec, or None."""
    groups: dict[str, list[dict[str, Any]]] = {"all": [], "any": []}
    for clause in form.clauses:
        if "type" in clause.errors:
            continue
        try:
            data = clause.to_dict()
            criterion = criterion_from_dict(data, default_id=f"{clause.group}-{len(groups[clause.group]) + 1}")
        except TandemError as exc:
            clause.errors[exc.field or "type"] = _error_text(exc)
            continue
        clause.sentence = criterion.describe()
        groups[clause.group].append(data)
    if form.has_errors:
        return None
    spec = {"all": groups["all"], "any": groups["any"], "note": form.note}
    try:
        definition = Definition.from_dict({**spec, "name": form.stage, "version": 1})
    except TandemError as exc:
        if exc.field == "id":
            for clause in form.clauses:
                if clause.fields.get("id", "") == exc.value:
                    clause.errors["id"] = _error_text(exc)
        if not any(c.errors for c in form.clauses):
            form.errors.append(_error_text(exc))
        return None
    form.errors.clear()
    return {k: v for k, v in definition.to_dict().items() if k not in ("name", "version")}


def definition_form_sentences(form: DefinitionForm) -> list[str]:
    """What the definition in the form reads as (empty while it has mistakes)."""
    spec = definition_form_check(form)
    if spec is None:
        return []
    return definition_describe(Definition.from_dict({**spec, "name": form.stage, "version": 1}))


# --- routing rules -------------------------------------------------------------------------------------------

KIND_LABELS: dict[str, str] = {
    "territory": "a territory (country, industry, size band)",
    "named_account": "named accounts go to the account's owner",
    "round_robin": "everyone: round-robin in a team",
    "fallback": "whoever is left (the last rule)",
}
RULE_FIELDS: dict[str, tuple[str, ...]] = {
    "territory": ("countries", "industries", "size_bands", "target"),
    "named_account": (),
    "round_robin": ("target",),
    "fallback": ("target",),
}
TERRITORY_LISTS = ("countries", "industries", "size_bands")


def _target_text(team_id: int | None, rep_id: int | None) -> str:
    if rep_id is not None:
        return f"rep:{rep_id}"
    return f"team:{team_id}" if team_id is not None else ""


@dataclass
class RuleRow:
    """One routing rule as typed."""

    kind: str
    fields: dict[str, str]
    index: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    sentence: str = ""
    # (value, label) of the targets the rule can send to, filled by the page from the roster.
    choices: list[tuple[str, str]] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"r{self.index}-"

    @property
    def shown(self) -> tuple[str, ...]:
        return ("id", "label", *RULE_FIELDS[self.kind])

    @property
    def other_errors(self) -> list[str]:
        return [f"{name}: {text}" for name, text in self.errors.items() if name not in self.shown and name != "kind"]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.fields.get("id", ""), "kind": self.kind, "label": self.fields.get("label", "")}
        for name in TERRITORY_LISTS:
            out[name] = list_items(self.fields.get(name, ""), name=name) if name in self.shown else []
        target = self.fields.get("target", "").strip() if "target" in self.shown else ""
        what, _, number = target.partition(":")
        if target and what not in ("rep", "team"):
            raise ValidationFailed("Send to a rep or a team.", field="target", value=target)
        out["rep_id"] = number if what == "rep" else None
        out["team_id"] = number if what == "team" else None
        return out


@dataclass
class RoutingForm:
    rules: list[RuleRow]
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.renumber()

    def renumber(self) -> None:
        for i, rule in enumerate(self.rules):
            rule.index = i

    @property
    def has_errors(self) -> bool:
        return bool(self.errors) or any(r.errors for r in self.rules)

    def to_post(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for r in self.rules:
            out[f"{r.prefix}kind"] = r.kind
            for name in r.shown:
                out[f"{r.prefix}{name}"] = r.fields.get(name, "")
        return out

    def add(self, *, kind: str) -> RuleRow:
        if kind not in RULE_KINDS:
            raise ValidationFailed(f"Unknown routing rule kind; use one of {', '.join(RULE_KINDS)}.", field="kind", value=kind)
        if len(self.rules) >= MAX_ROWS:
            raise ValidationFailed(f"Routing has at most {MAX_ROWS} rules.", field="rules", value=len(self.rules))
        taken = {r.fields.get("id", "") for r in self.rules}
        base = kind.replace("_", "-")
        number = next(n for n in range(1, MAX_ROWS + 2) if f"{base}-{n}" not in taken)
        row = RuleRow(kind=kind, fields={"id": f"{base}-{number}", "label": "", "countries": "", "industries": "", "size_bands": "", "target": ""})
        # A new rule goes before the fallback, which must stay last.
        position = len(self.rules) - 1 if self.rules and self.rules[-1].kind == "fallback" and kind != "fallback" else len(self.rules)
        self.rules.insert(position, row)
        self.renumber()
        return row

    def remove(self, index: int) -> None:
        self.rules = [r for r in self.rules if r.index != index]
        self.renumber()

    def move(self, index: int, step: int) -> None:
        """Move a rule up (-1) or down (+1) in the order."""
        target = index + step
        if 0 <= index < len(self.rules) and 0 <= target < len(self.rules):
            self.rules[index], self.rules[target] = self.rules[target], self.rules[index]
        self.renumber()

    def set_choices(self, *, reps: Sequence[tuple[int, str]], teams: Sequence[tuple[int, str]]) -> None:
        """Offer each rule the roster's reps and teams it can send to (and its own target, even if unknown)."""
        rep_choices = [(f"rep:{rid}", f"rep {rid}: {name}") for rid, name in reps]
        team_choices = [(f"team:{tid}", f"round-robin in team {tid}: {name}") for tid, name in teams]
        for rule in self.rules:
            choices = team_choices if rule.kind == "round_robin" else rep_choices + team_choices
            current = rule.fields.get("target", "")
            if current and current not in {v for v, _ in choices}:
                what, _, number = current.partition(":")
                choices = [(current, f"{what} {number} (not in the roster)"), *choices]
            rule.choices = list(choices)


def routing_form_from_spec(*, spec: Mapping[str, Any]) -> RoutingForm:
    """The editor's fields for routing rules (read in their stored form first)."""
    stored = RoutingRules.from_dict(spec).to_dict()
    rows = []
    for item in stored["rules"]:
        fields = {
            "id": item["id"],
            "label": item["label"],
            **{name: list_text(item[name]) for name in TERRITORY_LISTS},
            "target": _target_text(item["team_id"], item["rep_id"]),
        }
        rows.append(RuleRow(kind=item["kind"], fields=fields))
    form = RoutingForm(rules=rows)
    routing_form_check(form)
    return form


_RULE_KEY = re.compile(r"^r(\d{1,4})-kind$")


def routing_form_from_post(post: Mapping[str, Any]) -> RoutingForm:
    """The editor's fields as posted (keys r<i>-<input>)."""
    indices = sorted(int(m.group(1)) for key in post if (m := _RULE_KEY.match(str(key))))
    errors: list[str] = []
    if len(indices) > MAX_ROWS:
        errors.append(f"Routing has at most {MAX_ROWS} rules (value: {len(indices)}).")
        indices = indices[:MAX_ROWS]
    rows = []
    for i in indices:
        prefix = f"r{i}-"
        kind = str(post.get(f"{prefix}kind", ""))
        row = RuleRow(kind=kind if kind in RULE_KINDS else "round_robin", fields={})
        if kind not in RULE_KINDS:
            row.errors["kind"] = f"Unknown routing rule kind (value: {kind[:40]})."
        row.fields = {n: str(post.get(f"{prefix}{n}", "")) for n in ("id", "label", *RULE_FIELDS[row.kind])}
        rows.append(row)
    return RoutingForm(rules=rows, errors=errors)


def routing_form_check(form: RoutingForm) -> dict[str, Any] | None:
    """Check every rule (errors go on the rule and input) and return the spec, or None."""
    items: list[dict[str, Any]] = []
    for row in form.rules:
        if "kind" in row.errors:
            continue
        try:
            data = row.to_dict()
            rule = RoutingRule.from_dict(data, default_id=f"rule-{row.index + 1}")
        except TandemError as exc:
            name = "target" if exc.field in ("team_id", "rep_id") else (exc.field or "kind")
            row.errors[name] = _error_text(exc)
            continue
        row.sentence = rule.describe()
        items.append(data)
    if form.has_errors:
        return None
    if not items:
        form.errors.append("Routing needs at least one rule.")
        return None
    try:
        rules = RoutingRules.from_dict({"rules": items})
    except TandemError as exc:
        for row in form.rules:
            if exc.field == "id" and row.fields.get("id") == exc.value:
                row.errors["id"] = _error_text(exc)
        if exc.field == "kind" or not any(r.errors for r in form.rules):
            form.errors.append(_error_text(exc))
        return None
    form.errors.clear()
    return {"rules": rules.to_dict()["rules"]}


# --- the SLA policy ------------------------------------------------------------------------------------------

SLA_FIELDS: tuple[str, ...] = (
    "first_touch_hours", "min_attempts", "attempt_days", "mql_target_per_month", "min_mql_to_sql_rate", "reroute_after_hours",
)
OPTIONAL_SLA_FIELDS = frozenset({"mql_target_per_month", "min_mql_to_sql_rate", "reroute_after_hours"})


@dataclass
class SlaForm:
    """The SLA policy as typed (the MQL→SQL minimum in per cent)."""

    fields: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)
    sentences: list[str] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return bool(self.errors)

    def to_post(self) -> dict[str, str]:
        return {name: self.fields.get(name, "") for name in SLA_FIELDS}


def sla_form_from_spec(*, spec: Mapping[str, Any]) -> SlaForm:
    """The editor's fields for an SLA policy (read in its stored form first)."""
    stored = SlaPolicy.from_dict(spec).to_dict()
    fields = {name: number_text(stored[name]) for name in SLA_FIELDS if name != "min_mql_to_sql_rate"}
    fields["min_mql_to_sql_rate"] = percent_text(stored["min_mql_to_sql_rate"])
    form = SlaForm(fields=fields)
    sla_form_check(form)
    return form


def sla_form_from_post(post: Mapping[str, Any]) -> SlaForm:
    return SlaForm(fields={name: str(post.get(name, "")) for name in SLA_FIELDS})


def sla_form_check(form: SlaForm) -> dict[str, Any] | None:
    """Check the policy (the error goes at its input) and return the spec, or None."""
    form.errors.clear()
    data: dict[str, Any] = {}
    for name in SLA_FIELDS:
        raw = form.fields.get(name, "").strip()
        if name == "min_mql_to_sql_rate":
            try:
                data[name] = percent_share(raw, name=name)
            except TandemError as exc:
                form.errors[name] = _error_text(exc)
        elif raw or name not in OPTIONAL_SLA_FIELDS:
            data[name] = raw
        else:
            data[name] = None
    if form.errors:
        return None
    try:
        policy = SlaPolicy.from_dict(data)
    except TandemError as exc:
        form.errors[exc.field if exc.field in SLA_FIELDS else "first_touch_hours"] = _error_text(exc)
        return None
    form.sentences = policy.describe()
    return {k: v for k, v in policy.to_dict().items() if k != "version"}
