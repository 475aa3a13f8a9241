"""Content usage and win rates, and content gaps (pure Python + numpy, no ORM; selectors feed them).

Decisions:
- A use counts for a deal when it names the deal, or, when it names none, for every deal of that person
  that was open at the moment of use (created at or before it, not closed before it). Content sent to a
  person before any deal existed counts for no deal: it cannot have helped one that did not exist.
- An asset's win rate is won / (won + lost) over the distinct closed deals its uses count for, with a 95 %
  Wilson interval and n (the number of closed deals); open deals are counted but carry no outcome yet.
  This is an association, not an effect: reps pick content for deals that already look promising.
- "Helped" is the share of uses where the rep said yes, among uses where the rep said yes or no.
- A content gap is a live theme heard at least `min_questions` times that no unexpired asset answers. Gaps
  are ranked by how many lost deals come with the theme (closed-lost deals of people who raised it), then by
  how often it was heard; the lost share among the closed deals of those people carries a Wilson interval.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from tandem.stats.intervals import wilson_interval


class UseRow(NamedTuple):
    asset_id: int
    person_id: int
    deal_id: int | None
    used_at: dt.datetime
    helped: bool | None


class DealRow(NamedTuple):
    deal_id: int
    person_id: int | None
    created_at: dt.datetime
    closed_at: dt.datetime | None
    stage: str  # open | won | lost


@dataclass(frozen=True)
class AssetUsage:
    asset_id: int
    uses: int
    people: int
    deals: int
    open_deals: int
    won: int
    lost: int
    win_rate: float | None
    win_low: float
    win_high: float
    helped_yes: int
    helped_rated: int
    helped_rate: float | None

    @property
    def closed(self) -> int:
        return self.won + self.lost

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"closed": self.closed}


def _deals_for_use(use: UseRow, by_id: Mapping[int, DealRow], by_person: Mapping[int, list[DealRow]]) -> list[DealRow]:
    if use.deal_id is not None:
        deal = by_id.get(use.deal_id)
        return [deal] if deal is not None else []
    return [
        d
        for d in by_person.get(use.person_id, ())
        if d.created_at <= use.used_at and (d.closed_at is None or d.closed_at >= use.used_at)
    ]


def asset_usage(uses: Iterable[UseRow], deals: Iterable[DealRow], asset_ids: Sequence[int] = ()) -> dict[int, AssetUsage]:
    """Usage, win rate (Wilson 95 %) and helped share per asset; `asset_ids` get a row even when unused."""
    by_id: dict[int, DealRow] = {}
    by_person: dict[int, list[DealRow]] = defaultdict(list)
    for deal in deals:
        by_id[deal.deal_id] = deal
        if deal.person_id is not None:
            by_person[deal.person_id].append(deal)
    counts: dict[int, int] = defaultdict(int)
    people: dict[int, set[int]] = defaultdict(set)
    touched: dict[int, dict[int, DealRow]] = defaultdict(dict)
    yes: dict[int, int] = defaultdict(int)
    rated: dict[int, int] = defaultdict(int)
    for use in uses:
        counts[use.asset_id] += 1
        people[use.asset_id].add(use.person_id)
        for deal in _deals_for_use(use, by_id, by_person):
            touched[use.asset_id][deal.deal_id] = deal
        if use.helped is not None:
            rated[use.asset_id] += 1
            yes[use.asset_id] += int(use.helped)
    out: dict[int, AssetUsage] = {}
    for asset_id in sorted(set(counts) | set(asset_ids)):
        deal_rows = touched.get(asset_id, {}).values()
        won = sum(1 for d in deal_rows if d.stage == "won")
        lost = sum(1 for d in deal_rows if d.stage == "lost")
        low, high = wilson_interval(won, won + lost)
        out[asset_id] = AssetUsage(
            asset_id=asset_id,
            uses=counts.get(asset_id, 0),
            people=len(people.get(asset_id, ())),
            deals=len(deal_rows),
            open_deals=sum(1 for d in deal_rows if d.stage == "open"),
            won=won,
            lost=lost,
            win_rate=won / (won + lost) if won + lost else None,
            win_low=low,
            win_high=high,
            helped_yes=yes.get(asset_id, 0),
            helped_rated=rated.get(asset_id, 0),
            helped_rate=yes[asset_id] / rated[asset_id] if rated.get(asset_id) else None,
        )
    return out


@dataclass(frozen=True)
class Baseline:
    won: int
    lost: int
    win_rate: float | None
    win_low: float
    win_high: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def baseline(deals: Iterable[DealRow]) -> Baseline:
    """The win rate of all closed deals, for comparison."""
    won = lost = 0
    for d in deals:
        won += d.stage == "won"
        lost += d.stage == "lost"
    low, high = wilson_interval(won, won + lost)
    return Baseline(won, lost, won / (won + lost) if won + lost else None, low, high)


class ThemeRow(NamedTuple):
    theme_id: int
    label: str


class AskedRow(NamedTuple):
    theme_id: int
    person_id: int


@dataclass(frozen=True)
class Gap:
    theme_id: int
    label: str
    questions: int
    people: int
    lost_deals: int
    closed_deals: int
    lost_share: float | None
    lost_low: float
    lost_high: float
    examples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"examples": list(self.examples)}


def content_gaps(
    *,
    themes: Iterable[ThemeRow],
    asked: Iterable[AskedRow],
    deals: Iterable[DealRow],
    answered: Iterable[int],
    min_questions: int = 1,
    examples: Mapping[int, Sequence[str]] | None = None,
) -> list[Gap]:
    """Themes heard at least `min_questions` times with no answering asset, most lost deals first."""
    covered = set(answered)
    labels = {t.theme_id: t.label for t in themes if t.theme_id not in covered}
    questions: dict[int, int] = defaultdict(int)
    askers: dict[int, set[int]] = defaultdict(set)
    for row in asked:
        if row.theme_id in labels:
            questions[row.theme_id] += 1
            askers[row.theme_id].add(row.person_id)
    closed_by_person: dict[int, list[DealRow]] = defaultdict(list)
    for d in deals:
        if d.person_id is not None and d.stage in ("won", "lost"):
            closed_by_person[d.person_id].append(d)
    out: list[Gap] = []
    for theme_id, label in labels.items():
        if questions.get(theme_id, 0) < min_questions:
            continue
        closed = {d.deal_id: d for p in askers[theme_id] for d in closed_by_person.get(p, ())}
        lost = sum(1 for d in closed.values() if d.stage == "lost")
        low, high = wilson_interval(lost, len(closed))
        out.append(
            Gap(
                theme_id=theme_id,
                label=label,
                questions=questions[theme_id],
                people=len(askers[theme_id]),
                lost_deals=lost,
                closed_deals=len(closed),
                lost_share=lost / len(closed) if closed else None,
                lost_low=low,
                lost_high=high,
                examples=tuple((examples or {}).get(theme_id, ())[:3]),
            )
        )
    out.sort(key=lambda g: (-g.lost_deals, -g.questions, g.label.casefold(), g.theme_id))
    return out
