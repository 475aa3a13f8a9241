"""The lifecycle state machine: stages, their order, and which moves are allowed. Pure Python, no ORM."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    RECYCLED = "recycled"
    DISQUALIFIED = "disqualified"


# The funnel order; recycled and disqualified are statuses off the main line.
FUNNEL: tuple[Stage, ...] = (
    Stage.SUBSCRIBER,
    Stage.LEAD,
    Stage.MQL,
    Stage.SAL,
    Stage.SQL,
    Stage.OPPORTUNITY,
    Stage.CUSTOMER,
)

LABELS: dict[Stage, str] = {
    Stage.SUBSCRIBER: "Subscriber",
    Stage.LEAD: "Lead",
    Stage.MQL: "MQL",
    Stage.SAL: "SAL",
    Stage.SQL: "SQL",
    Stage.OPPORTUNITY: "Opportunity",
    Stage.CUSTOMER: "Customer",
    Stage.RECYCLED: "Recycled",
    Stage.DISQUALIFIED: "Disqualified",
}

CHOICES: list[tuple[str, str]] = [(s.value, LABELS[s]) for s in Stage]


def _forward_from(stage: Stage) -> set[Stage]:
    return set(FUNNEL[FUNNEL.index(stage) + 1 :])


# Forward moves may skip stages (an imported won deal makes a customer of a lead); the only ways back are
# recycling (sales returns the lead to marketing) and disqualifying. A customer stays a customer.
ALLOWED: dict[Stage, frozenset[Stage]] = {
    Stage.SUBSCRIBER: frozenset(_forward_from(Stage.SUBSCRIBER) | {Stage.DISQUALIFIED}),
    Stage.LEAD: frozenset(_forward_from(Stage.LEAD) | {Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.MQL: frozenset(_forward_from(Stage.MQL) | {Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.SAL: frozenset(_forward_from(Stage.SAL) | {Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.SQL: frozenset(_forward_from(Stage.SQL) | {Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.OPPORTUNITY: frozenset({Stage.CUSTOMER, Stage.RECYCLED, Stage.DISQUALIFIED}),
    Stage.CUSTOMER: frozenset(),
    Stage.RECYCLED: frozenset(
        {Stage.LEAD, Stage.MQL, Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.DISQUALIFIED}
    ),
    Stage.DISQUALIFIED: frozenset({Stage.LEAD, Stage.RECYCLED, Stage.OPPORTUNITY, Stage.CUSTOMER}),
}

# A person's first stage (the "from" of its first StageChange is empty).
INITIAL: frozenset[Stage] = frozenset(
    {Stage.SUBSCRIBER, Stage.LEAD, Stage.MQL, Stage.OPPORTUNITY, Stage.CUSTOMER}
)


def can_move(from_stage: str | None, to_stage: str) -> bool:
    """True when the state machine allows moving from `from_stage` (None: a new person) to `to_stage`."""
    try:
        target = Stage(to_stage)
    except ValueError:
        return False
    if from_stage is None or from_stage == "":
        return target in INITIAL
    try:
        source = Stage(from_stage)
    except ValueError:
        return False
    return target in ALLOWED[source]


def rank(stage: str) -> int:
    """Position on the funnel (recycled and disqualified rank -1): used to move only forward on import."""
    try:
        return FUNNEL.index(Stage(stage))
    except ValueError:
        return -1
