"""The request board's rules and numbers, on plain values (no ORM): allowed moves, due-date warnings,
lead-time statistics by type, and requests that repeat (candidates for the content library)."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tandem.core.errors import NotAllowed, ValidationFailed

NEW, ACCEPTED, IN_PROGRESS, DELIVERED, DECLINED = "new", "accepted", "in_progress", "delivered", "declined"
COLUMNS = (NEW, ACCEPTED, IN_PROGRESS, DELIVERED, DECLINED)
OPEN = frozenset({NEW, ACCEPTED, IN_PROGRESS})

# Allowed moves and the button that makes each. Delivered is final; a declined request can be reopened.
TRANSITIONS: dict[str, dict[str, str]] = {
    NEW: {ACCEPTED: "Accept", DECLINED: "Decline"},
    ACCEPTED: {IN_PROGRESS: "Start", DECLINED: "Decline"},
    IN_PROGRESS: {DELIVERED: "Deliver", ACCEPTED: "Pause", DECLINED: "Decline"},
    DELIVERED: {},
    DECLINED: {NEW: "Reopen"},
}

DUE_SOON_DAYS = 3
# Two requests repeat when their purposes share at least this share of their words (Jaccard index).
SIMILAR_JACCARD = 0.5
REPEAT_MIN_REPS = 2
REASON_MAX = 2000


def move_check(*, current: str, target: str, reason: str = "") -> str:
    """The cleaned reason when `current` → `target` is an allowed move; refuses anything else."""
    if target not in COLUMNS:
        raise ValidationFailed(f"unknown status {target!r}", field="to", value=target)
    if target not in TRANSITIONS.get(current, {}):
        allowed = ", ".join(TRANSITIONS.get(current, {})) or "none (it is final)"
        raise NotAllowed(
            f"a request that is {current.replace('_', ' ')} cannot move to {target.replace('_', ' ')} "
            f"(allowed: {allowed})",
            field="to",
            value=target,
        )
    reason = reason.strip()
    if target == DECLINED and not reason:
        raise ValidationFailed("declining a request needs a reason", field="reason", value="")
    if len(reason) > REASON_MAX or "\x00" in reason:
        raise ValidationFailed(f"the reason must be plain text of at most {REASON_MAX} characters", field="reason", value=reason[:40])
    return reason


def due_status(*, status: str, due_on: dt.date, today: dt.date, soon_days: int = DUE_SOON_DAYS) -> str:
    """'overdue', 'due_soon' (within `soon_days` days) or '' for an open request; '' once it is closed."""
    if status not in OPEN:
        return ""
    if due_on < today:
        return "overdue"
    if (due_on - today).days <= soon_days:
        return "due_soon"
    return ""


@dataclass(frozen=True)
class LeadTime:
    kind: str
    n: int
    median_days: float
    p80_days: float

    @property
    def ask_days_ahead(self) -> int:
        """Whole days ahead to ask so that four requests in five of this type arrived in time."""
        return math.ceil(self.p80_days)


def lead_times(*, durations: Iterable[tuple[str, float]]) -> list[LeadTime]:
    """Median and 80th percentile (linear interpolation) of days from request to delivery, per type."""
    by_kind: dict[str, list[float]] = {}
    for kind, days in durations:
        by_kind.setdefault(kind, []).append(days)
    out = []
    for kind, values in sorted(by_kind.items()):
        arr = np.asarray(values, dtype=float)
        out.append(
            LeadTime(
                kind=kind,
                n=int(arr.size),
                median_days=round(float(np.median(arr)), 2),
                p80_days=round(float(np.percentile(arr, 80)), 2),
            )
        )
    return out


_STOP = frozenset(
    {
        "the", "and", "for", "with", "from", "that", "this", "our", "their", "them", "they", "you", "your",
        "are", "was", "were", "has", "have", "had", "but", "not", "into", "about", "need", "needs", "needed",
        "please", "can", "could", "would", "some", "any", "all", "one", "two", "new", "more", "most", "very",
        "just", "also", "who", "what", "when", "where", "which", "how", "why", "will", "shall", "should",
        "may", "might", "must", "per", "via", "its", "out", "off", "over", "under", "again",
    }
)


def purpose_words(text: str) -> frozenset[str]:
    """The content words of a purpose, lower-cased and crudely singular, for comparing requests."""
    words = set()
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        if len(word) < 3 or word in _STOP:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        words.add(word)
    return frozenset(words)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared words over all words of two word sets (0 when both are empty)."""
    union = a | b
    return len(a & b) / len(union) if union else 0.0


@dataclass(frozen=True)
class RequestText:
    id: int
    kind: str
    purpose: str
    requester_id: int | None
    requested_at: dt.datetime


@dataclass
class Suggestion:
    kind: str
    label: str
    request_ids: list[int]
    requester_ids: list[int]
    examples: list[str]
    last_requested_at: dt.datetime
    words: list[str] = field(default_factory=list)

    @property
    def n_requests(self) -> int:
        return len(self.request_ids)

    @property
    def n_reps(self) -> int:
        return len(self.requester_ids)


def repeats_find(
    *, requests: Sequence[RequestText], threshold: float = SIMILAR_JACCARD, min_reps: int = REPEAT_MIN_REPS
) -> list[Suggestion]:
    """Groups of same-type requests with similar purposes (single linkage) asked by at least `min_reps` reps."""
    parent = list(range(len(requests)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    words = [purpose_words(r.purpose) for r in requests]
    for i in range(len(requests)):
        for j in range(i + 1, len(requests)):
            if requests[i].kind == requests[j].kind and jaccard(words[i], words[j]) >= threshold:
                parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(requests)):
        groups.setdefault(root(i), []).append(i)
    out = []
    for members in groups.values():
        reps = sorted({r for i in members if (r := requests[i].requester_id) is not None})
        if len(reps) < min_reps:
            continue
        counts = Counter(w for i in members for w in words[i])
        # Words most of the group used, most used first: a readable name for what keeps being asked for.
        common = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c * 2 >= len(members)]
        newest_first = sorted(members, key=lambda i: (requests[i].requested_at, requests[i].id), reverse=True)
        out.append(
            Suggestion(
                kind=requests[members[0]].kind,
                label=" ".join(common[:6]) or requests[newest_first[0]].purpose[:60],
                request_ids=sorted(requests[i].id for i in members),
                requester_ids=reps,
                examples=[requests[i].purpose for i in newest_first[:3]],
                last_requested_at=requests[newest_first[0]].requested_at,
                words=common,
            )
        )
    out.sort(key=lambda s: (-s.n_reps, -s.n_requests, -s.last_requested_at.timestamp(), s.kind))
    return out
