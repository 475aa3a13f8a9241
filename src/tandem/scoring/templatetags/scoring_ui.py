"""Template helpers of scoring: percentages and a person's stored score for the person page."""

from __future__ import annotations

from typing import Any

from django import template

from tandem.scoring.models import PersonScore
from tandem.scoring.selectors import person_score_get

register = template.Library()


@register.filter(name="percent")
def percent(value: float | None, digits: int = 1) -> str:
    """0.0734 -> '7.3%' (None -> '—')."""
    if value is None:
        return "—"
    return f"{value * 100:.{int(digits)}f}%"


@register.simple_tag
def person_score_for(person: Any) -> PersonScore | None:
    """The person's latest stored score (one query), or None."""
    return person_score_get(person_id=person.pk) if person is not None and person.pk else None
