"""Taking one person's identifying text out of free text and JSON values (erasure, tandem.privacy). No Django.

A *needle* is a string that identifies the person (an e-mail, a full name, a phone number). `text_redact`
replaces every occurrence, in any case, with ERASED; `json_redact` does so in every string (and key) of a JSON
value, and with `keys` it also blanks whatever is stored under those keys (a note, an old name) entirely.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterable
from typing import Any

ERASED = "[erased]"
# Needles shorter than this would hit ordinary words (a first name "Al" inside "Alpha"): never redacted alone.
NEEDLE_MIN = 3


def needles_clean(values: Iterable[str | None]) -> list[str]:
    """The distinct needles worth searching for, longest first (so a full name goes before its parts)."""
    seen: dict[str, str] = {}
    for value in values:
        text = (value or "").strip()
        if len(text) >= NEEDLE_MIN:
            seen.setdefault(text.casefold(), text)
    return sorted(seen.values(), key=lambda t: (-len(t), t))


def phone_forms(phone: str) -> list[str]:
    """A phone number as stored and as its bare digits (how it turns up in notes and other systems' ids)."""
    digits = re.sub(r"\D", "", phone or "")
    return [phone.strip(), digits] if len(digits) >= 7 else ([phone.strip()] if phone.strip() else [])


def json_forms(needles: Iterable[str]) -> list[str]:
    """Needles as they read inside JSON text too: SQLite keeps JSON with non-ASCII letters escaped (\\u00eb)."""
    out: list[str] = []
    for needle in needles:
        out.append(needle)
        escaped = json.dumps(needle)[1:-1]
        if escaped != needle:
            out.append(escaped)
    return out


def _pattern(needles: Collection[str]) -> re.Pattern[str] | None:
    if not needles:
        return None
    return re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)), re.IGNORECASE)


def text_redact(text: str, *, needles: Collection[str]) -> str:
    """The text with every needle (any case) replaced by ERASED."""
    pattern = _pattern(needles)
    return text if pattern is None or not text else pattern.sub(ERASED, text)


def json_redact(value: Any, *, needles: Collection[str], keys: Collection[str] = ()) -> Any:
    """A copy of a JSON value with needles redacted in every string and key, and values under `keys` erased."""
    pattern = _pattern(needles)

    def walk(v: Any) -> Any:
        if isinstance(v, str):
            return pattern.sub(ERASED, v) if pattern is not None else v
        if isinstance(v, dict):
            out = {}
            for k, item in v.items():
                key = walk(k) if isinstance(k, str) else k
                out[key] = _blank(item) if k in keys else walk(item)
            return out
        if isinstance(v, list):
            return [walk(item) for item in v]
        return v

    return walk(value)


def _blank(value: Any) -> Any:
    # A value under an erased key: text becomes ERASED, containers keep their shape (an old/new pair stays a pair).
    if isinstance(value, list):
        return [_blank(v) for v in value]
    if isinstance(value, dict):
        return {k: _blank(v) for k, v in value.items()}
    if isinstance(value, str) and value:
        return ERASED
    return value


def contains_any(text: str, *, needles: Collection[str]) -> bool:
    """Whether any needle occurs in the text (any case)."""
    folded = (text or "").casefold()
    return any(n.casefold() in folded for n in needles)


def mentions_any(text: str, *, needles: Collection[str]) -> bool:
    """Whether any needle occurs in the text as a whole word (any case): "Ann" is in "Ann called", not "annual"."""
    if not needles or not text:
        return False
    pattern = "|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True))
    return re.search(rf"(?<!\w)(?:{pattern})(?!\w)", text, re.IGNORECASE) is not None
