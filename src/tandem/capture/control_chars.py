"""Control characters in captured text: found and named, so a row or a post is refused with a clear error.

NUL cannot be stored in PostgreSQL's text at all (the driver raises, an unhandled database error), and the other
C0 controls (bell, backspace, escape, form feed...) are never part of a name, an address or a note: they come
from binary files saved as CSV, broken exports or probes. Tab, line feed and carriage return are text and pass.
Pure code, no database: one regular-expression scan of the whole text, so a clean file costs next to nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# C0 controls except tab (09), line feed (0A) and carriage return (0D).
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def control_char_problem(text: str) -> str | None:
    """'control character U+0000 not allowed' for the first control character in text, or None."""
    found = CONTROL.search(text)
    return None if found is None else f"control character U+{ord(found.group()):04X} not allowed"


def control_chars_shown(text: str, limit: int = 80) -> str:
    """The text with each control character written as \\uXXXX, for error messages and reports (a database
    that refused the character refuses it in a report too)."""
    return CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text[:limit])


def control_char_cell(cells: Sequence[str]) -> int | None:
    """The index of the first cell holding a control character, or None (one scan when there is none)."""
    if CONTROL.search("\t".join(cells)) is None:
        return None
    for index, cell in enumerate(cells):
        if CONTROL.search(cell) is not None:
            return index
    return None
