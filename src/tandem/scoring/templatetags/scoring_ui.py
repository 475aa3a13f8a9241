"""Template helpers of scoring: percentages and a person's stored score for the person page."""

from __future__ import annotations

from typing import Any, cast

from django import template
from django.core.exceptions import ObjectDoesNotExist

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
    """The person's latest stored score, or None: no query when the person page selected it with the person."""
    if person is None or not person.pk:
        return None
    try:
        return cast(PersonScore, person.score)
    except ObjectDoesNotExist:
        return None
    except AttributeError:  # not a Person instance
        return person_score_get(person_id=person.pk)
