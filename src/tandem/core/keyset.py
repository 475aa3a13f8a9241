"""Opaque cursors for keyset pagination: which row a page starts after (or ends before). Pure Python."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from tandem.core.errors import ValidationFailed

# Ids beyond a signed 64-bit integer cannot exist; asking a database about them is an overflow error.
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Cursor:
    """The boundary row of a page: its sort key as text, its id, and which side of it the page lies on."""

    order: str
    key: str
    id: int
    # False: the rows that come after the boundary in list order ("Older"); True: the rows before it ("Newer").
    backward: bool = False


def cursor_encode(cursor: Cursor) -> str:
    """The URL-safe text of a cursor."""
    raw = json.dumps([cursor.order, cursor.key, cursor.id, int(cursor.backward)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def cursor_decode(text: str, *, order: str) -> Cursor:
    """Read a cursor made by cursor_encode for a list in `order`; anything else is refused naming the value."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        got_order, key, row_id, backward = json.loads(raw)
        if not (isinstance(got_order, str) and isinstance(key, str) and isinstance(row_id, int)):
            raise TypeError("wrong types")
        if not 0 < row_id <= MAX_ID or "\x00" in key:
            raise ValueError("out of range")
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ValidationFailed(
            f"cursor {text!r} is not a valid page cursor", field="cursor", value=text
        ) from None
    if got_order != order:
        # A cursor from a sorted-by-name search pasted into the newest-first list would skip rows silently.
        raise ValidationFailed(
            f"cursor {text!r} belongs to a list sorted by {got_order}, not {order}",
            field="cursor",
            value=text,
        )
    return Cursor(order=order, key=key, id=row_id, backward=bool(backward))
