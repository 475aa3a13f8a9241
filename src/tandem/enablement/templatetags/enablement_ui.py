"""Template helpers of enablement: percentages, intervals and file sizes."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter(name="pct")
def pct(value: float | None) -> str:
    """0.4167 -> '42%' (None -> '—')."""
    return "—" if value is None else f"{value * 100:.0f}%"


@register.simple_tag(name="interval")
def interval(low: float, high: float, n: int) -> str:
    """'31–55% (n = 40)', or 'no closed deals yet' when n is 0."""
    if not n:
        return "n = 0"
    return f"{low * 100:.0f}–{high * 100:.0f}% (n = {n})"


@register.filter(name="filesize")
def filesize(size: int | None) -> str:
    """Bytes in KB or MB."""
    if not size:
        return "—"
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / (1024 * 1024):.1f} MB"
