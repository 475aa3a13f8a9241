"""The quick-log box's few words, read without the database: "call connected 15m wants pricing".

The first words of the text may name, in any order, the kind ("call", "email", "meeting", "note" or a kind an
admin added, by key or label, "LinkedIn message"), the outcome ("connected", "no answer", "vm"…), a duration ("15m", "1h30",
"90s", "0:45") and a direction ("inbound", "outbound"). Reading stops at the first word that is none of these
(or at "-", "—" or ":"), and the rest of the text, as typed, is the note. Each slot is filled once, so in
"call connected call back Tuesday" the second "call" starts the note.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Outcome words and phrases (lower case, words separated by one space) → ActivityOutcome values.
OUTCOME_WORDS: dict[str, str] = {
    "connected": "connected",
    "reached": "connected",
    "spoke": "connected",
    "no answer": "no_answer",
    "noanswer": "no_answer",
    "no reply": "no_answer",
    "unanswered": "no_answer",
    "left voicemail": "left_voicemail",
    "left vm": "left_voicemail",
    "voicemail": "left_voicemail",
    "vm": "left_voicemail",
    "busy": "busy",
    "wrong number": "wrong_number",
    "sent": "sent",
    "replied": "replied",
    "reply": "replied",
    "bounced": "bounced",
    "scheduled": "scheduled",
    "booked": "scheduled",
    "held": "held",
    "completed": "held",
    "no show": "no_show",
    "noshow": "no_show",
    "no-show": "no_show",
    "rescheduled": "rescheduled",
    "canceled": "canceled",
    "cancelled": "canceled",
}
# Longest phrases first, so "no answer" wins over a hypothetical "no".
_PHRASE_LENGTHS = sorted({len(p.split(" ")) for p in OUTCOME_WORDS}, reverse=True)

DIRECTION_WORDS: dict[str, str] = {
    "outbound": "outbound",
    "outgoing": "outbound",
    "inbound": "inbound",
    "incoming": "inbound",
}

STOP_WORDS = frozenset({"-", "—", "–", ":", "|"})

_DURATION = re.compile(
    r"^(?:(?P<h>\d{1,2})h(?:(?P<hm>\d{1,2})m?)?|(?P<m>\d{1,4})(?:m|min|mins|minutes?)|(?P<s>\d{1,5})s"
    r"|(?P<ch>\d{1,2}):(?P<cm>[0-5]\d))$"
)
_UNIT_WORDS = frozenset({"m", "min", "mins", "minute", "minutes"})
_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class QuickLog:
    """What the words said; None where they said nothing (the form's selects fill those)."""

    kind: str | None = None
    outcome: str | None = None
    direction: str | None = None
    duration_minutes: int | None = None
    notes: str = ""


def kind_words(kinds: Mapping[str, str]) -> dict[str, str]:
    """The words that name each kind: its key, its label, and the label without spaces or hyphens
    ("e-mail", "email"), lower case. `kinds` maps keys to labels; the first kind to claim a word keeps it."""
    out: dict[str, str] = {}
    for key, label in kinds.items():
        words = {key.lower(), key.lower().replace("_", " "), label.strip().lower()}
        words |= {w.replace("-", "").replace(" ", "") for w in list(words)}
        for word in words:
            if word:
                out.setdefault(word, key)
    # The common spellings of the built-in kinds.
    if "email" in kinds:
        for alias in ("e-mail", "mail"):
            out.setdefault(alias, "email")
    if "meeting" in kinds:
        out.setdefault("meet", "meeting")
    return out


def _word(token: str) -> str:
    # Trailing punctuation does not change a word: "call," is "call".
    return token.lower().rstrip(",;.!")


def _duration(tokens: list[str], i: int) -> tuple[int, int] | None:
    """(minutes, tokens used) when a duration starts at token i."""
    word = _word(tokens[i])
    match = _DURATION.match(word)
    if match:
        g = match.groupdict()
        if g["h"] is not None:
            minutes = int(g["h"]) * 60 + int(g["hm"] or 0)
        elif g["m"] is not None:
            minutes = int(g["m"])
        elif g["s"] is not None:
            minutes = math.ceil(int(g["s"]) / 60)
        else:
            minutes = int(g["ch"]) * 60 + int(g["cm"])
        return minutes, 1
    # "15 min": a number followed by a unit word.
    if word.isdigit() and len(word) <= 4 and i + 1 < len(tokens) and _word(tokens[i + 1]) in _UNIT_WORDS:
        return int(word), 2
    return None


def _phrase(
    tokens: list[str], i: int, words: Mapping[str, str], lengths: Sequence[int]
) -> tuple[str, int] | None:
    """(value, tokens used) of the longest phrase of `words` starting at token i."""
    for n in lengths:
        if i + n <= len(tokens):
            phrase = " ".join(_word(t) for t in tokens[i : i + n])
            if phrase in words:
                return words[phrase], n
    return None


def quicklog_parse(text: str, *, kinds: Mapping[str, str]) -> QuickLog:
    """Read the kind, outcome, duration and direction from the first words; the rest is the note.
    `kinds` maps the words that name kinds to their keys (see kind_words)."""
    matches = list(_TOKEN.finditer(text))
    tokens = [m.group() for m in matches]
    kind_lengths = sorted({len(w.split(" ")) for w in kinds}, reverse=True)
    kind = outcome = direction = None
    duration: int | None = None
    i = 0
    while i < len(tokens):
        word = _word(tokens[i])
        if tokens[i] in STOP_WORDS:
            i += 1
            break
        found = _phrase(tokens, i, kinds, kind_lengths) if kind is None else None
        if found is not None:
            kind, i = found[0], i + found[1]
            continue
        if direction is None and word in DIRECTION_WORDS:
            direction, i = DIRECTION_WORDS[word], i + 1
            continue
        found = _phrase(tokens, i, OUTCOME_WORDS, _PHRASE_LENGTHS) if outcome is None else None
        if found is not None:
            outcome, i = found[0], i + found[1]
            continue
        took = _duration(tokens, i) if duration is None else None
        if took is not None:
            duration, i = took[0], i + took[1]
            continue
        break
    notes = text[matches[i].start() :].strip() if i < len(matches) else ""
    return QuickLog(kind=kind, outcome=outcome, direction=direction, duration_minutes=duration, notes=notes)
