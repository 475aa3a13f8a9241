"""Checking free text a person typed: a clear error naming the field, never a database error."""

from __future__ import annotations

from typing import Any

from tandem.core.errors import ValidationFailed


def text_clean(value: Any, *, field: str, max_length: int, required: bool) -> str:
    """The text stripped, or ValidationFailed naming the field (not text, NUL, empty when required, too long)."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text", field=field, value=repr(value)[:80])
    # PostgreSQL cannot store NUL in text: refused here rather than as a database error.
    if "\x00" in value:
        raise ValidationFailed(f"{field} must not contain NUL characters", field=field, value=value[:80])
    clean = value.strip()
    if required and not clean:
        raise ValidationFailed(f"{field} must not be empty", field=field, value=value)
    if len(clean) > max_length:
        raise ValidationFailed(
            f"{field} must be at most {max_length} characters, got {len(clean)}",
            field=field,
            value=clean[:80],
        )
    return clean
