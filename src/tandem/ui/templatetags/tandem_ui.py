"""Small display filters shared by every app's templates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from tandem.crm.channels import KIND_LABELS, channel_label
from tandem.crm.models import SizeBand
from tandem.crm.stages import LABELS, Stage

register = template.Library()


@register.filter(name="channel")
def channel_filter(slug: str) -> str:
    """'paid_search' -> 'Paid search'."""
    return channel_label(slug or "")


@register.filter(name="touch_kind")
def touch_kind_filter(slug: str) -> str:
    """'demo_request' -> 'Demo requested'."""
    return KIND_LABELS.get(slug, (slug or "").replace("_", " ").capitalize())


@register.filter(name="stage")
def stage_filter(value: str) -> str:
    """'mql' -> 'MQL'; empty stays a dash."""
    try:
        return LABELS[Stage(value)]
    except ValueError:
        return value or "—"


@register.filter(name="size_band")
def size_band_filter(value: str) -> str:
    """'1001-5000' -> '1,001–5,000'; unknown size text is shown as imported."""
    return SizeBand(value).label if value in SizeBand.values else (value or "—")


@register.filter(name="money")
def money_filter(amount: Decimal | int | float | None, currency: str = "") -> str:
    """12000.5 -> '12,001' (whole units; the person page is no ledger)."""
    if amount is None:
        return "—"
    text = f"{Decimal(amount):,.0f}"
    return f"{text} {currency}".strip()


@register.filter(name="get_item")
def get_item_filter(mapping: dict[str, Any] | None, key: str) -> Any:
    """A dict's value by a key held in a variable (templates cannot index by variable)."""
    return (mapping or {}).get(key)
