"""Template filters for the editors in words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

register = template.Library()


@register.filter
def get(mapping: Mapping[str, Any] | None, key: str) -> Any:
    """mapping[key], or "" when absent (a clause's raw input text or its error, by input name)."""
    return (mapping or {}).get(key, "")
