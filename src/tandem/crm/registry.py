"""What the apps above crm tell it at start-up: the tables that point at a person, parts of the person page
and of the account page.

crm sits below campaigns, feedback, enablement, capture and analytics, so it never imports them. Each of those
registers here in its AppConfig.ready() (as Django's admin registry is filled): a merge then moves every
registered table's rows to the survivor, and the person and account pages show every registered part. A new
app whose table points at a person registers it, and merging keeps its rows without any change to crm.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PersonReference:
    """A table whose rows belong to a person: a merge moves them from the duplicate to the survivor."""

    name: str  # the key in the merge event's "moved" counts
    model: str  # "app_label.ModelName"
    column: str = "person_id"
    where: dict[str, Any] = field(default_factory=dict)  # only rows matching this (e.g. events about people)
    # Columns unique together with the person (e.g. one membership per audience): the duplicate's rows that
    # the survivor already has are dropped before the move, as the unique constraint allows one.
    unique_with: tuple[str, ...] = ()


# A step runs once the rows have moved and before the survivor is saved: step(survivor=..., duplicate=...).
MergeStep = Callable[..., None]
# A part loader returns what the person page shows in that part: load(person=...).
PartLoader = Callable[..., Any]

_REFERENCES: dict[str, PersonReference] = {}
_MERGE_STEPS: dict[str, MergeStep] = {}
_DETAIL_PARTS: dict[str, PartLoader] = {}
_ACCOUNT_PARTS: dict[str, PartLoader] = {}


def person_reference_register(
    *, name: str, model: str, column: str = "person_id", unique_with: tuple[str, ...] = (), **where: Any
) -> None:
    """Register a table whose rows a merge moves to the survivor (registering a name again replaces it)."""
    _REFERENCES[name] = PersonReference(name=name, model=model, column=column, where=where, unique_with=unique_with)


def person_references() -> list[PersonReference]:
    """Every registered table that points at a person, in registration (app) order."""
    return list(_REFERENCES.values())


def person_merge_step_register(*, name: str, step: MergeStep) -> None:
    """Register a step a merge runs after moving rows, before saving the survivor (e.g. its journey channels)."""
    _MERGE_STEPS[name] = step


def person_merge_steps() -> list[MergeStep]:
    """The registered merge steps, in registration (app) order."""
    return list(_MERGE_STEPS.values())


def person_detail_part_register(*, name: str, load: PartLoader) -> None:
    """Register a part of the person page: `load(person=...)` returns what the part shows."""
    _DETAIL_PARTS[name] = load


def person_detail_part(*, name: str, person: Any, default: Any) -> Any:
    """The named part of a person's page, or `default` when no app registered it."""
    load = _DETAIL_PARTS.get(name)
    return default if load is None else load(person=person)


def account_detail_part_register(*, name: str, load: PartLoader) -> None:
    """Register a part of the account page: `load(account=..., user=...)` returns what the part shows (of what the
    user may see; user None: everything)."""
    _ACCOUNT_PARTS[name] = load


def account_detail_part(*, name: str, account: Any, default: Any, user: Any = None) -> Any:
    """The named part of an account's page (what `user` may see of it), or `default` when no app registered it."""
    load = _ACCOUNT_PARTS.get(name)
    return default if load is None else load(account=account, user=user)
