"""A person's journey without the ORM: the original channel and campaign come from their first touchpoint,
the latest from their last.

Touches of the same moment are told apart by `tie`, which each caller fills with its own order (kept as it
was when the rule was written once per importer): intake uses arrival order, the CSV import the channel and
campaign key, the bundle import the channel, the bundle's campaign id, the kind and the campaign key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, NamedTuple

JOURNEY_FIELDS = ("original_channel", "original_campaign_id", "latest_channel", "latest_campaign_id")


class Touch(NamedTuple):
    """One touchpoint as the journey sees it."""

    occurred_at: dt.datetime
    channel: str
    campaign_id: int | None
    tie: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Journey:
    """Where a person came from first and most recently."""

    original_channel: str = ""
    original_campaign_id: int | None = None
    latest_channel: str = ""
    latest_campaign_id: int | None = None

    def as_fields(self) -> dict[str, Any]:
        """The journey as Person field values (attnames)."""
        return {
            "original_channel": self.original_channel,
            "original_campaign_id": self.original_campaign_id,
            "latest_channel": self.latest_channel,
            "latest_campaign_id": self.latest_campaign_id,
        }


NO_JOURNEY = Journey()
# Only the moment and the tie order touches: two touches equal on both are interchangeable.
_ORDER = itemgetter(0, 3)


def journey_first(*, touches: Iterable[Touch]) -> Touch:
    """The earliest touch (of equal ones, the one first in `tie` order, then the first given)."""
    return min(touches, key=_ORDER)


def journey_last(*, touches: Iterable[Touch]) -> Touch:
    """The latest touch (of equal ones, the one last in `tie` order, then the first given)."""
    return max(touches, key=_ORDER)


def journey_of(*, touches: Iterable[Touch]) -> Journey:
    """Original channel and campaign from the first touch, latest from the last; NO_JOURNEY without touches."""
    items = list(touches)
    if not items:
        return NO_JOURNEY
    first, last = journey_first(touches=items), journey_last(touches=items)
    return Journey(first.channel, first.campaign_id, last.channel, last.campaign_id)
