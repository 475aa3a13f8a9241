"""Usage and win rates per asset, and content gaps, on hand-made rows (no database)."""

from __future__ import annotations

import datetime as dt

import pytest
from statsmodels.stats.proportion import proportion_confint

from tandem.enablement.stats import AskedRow, DealRow, ThemeRow, UseRow, asset_usage, baseline, content_gaps


def _at(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 12, tzinfo=dt.UTC)


DEALS = [
    DealRow(100, 10, _at(1, 1), _at(3, 1), "won"),
    DealRow(101, 10, _at(3, 5), None, "open"),  # opened after the use: not counted
    DealRow(110, 11, _at(1, 1), _at(2, 20), "lost"),
    DealRow(120, 12, _at(1, 1), _at(1, 20), "lost"),  # closed before the use: not counted
]


def test_a_use_counts_for_the_named_deal_or_the_persons_deals_open_at_the_time():
    # given three uses of asset 1 and an unused asset 2
    uses = [
        UseRow(1, 10, None, _at(2, 1), True),
        UseRow(1, 11, 110, _at(3, 1), False),
        UseRow(1, 12, None, _at(2, 1), None),
    ]
    # when usage is computed
    usage = asset_usage(uses, DEALS, [1, 2])
    # then asset 1 counts deals 100 (won) and 110 (lost), with the Wilson interval of 1 of 2
    one = usage[1]
    low, high = proportion_confint(1, 2, alpha=0.05, method="wilson")
    assert (one.uses, one.people, one.deals, one.open_deals, one.won, one.lost) == (3, 3, 2, 0, 1, 1)
    assert one.win_rate == 0.5
    assert one.win_low == pytest.approx(low, abs=1e-12) and one.win_high == pytest.approx(high, abs=1e-12)
    assert (one.helped_yes, one.helped_rated, one.helped_rate) == (1, 2, 0.5)
    # and the unused asset has a row with no information: rate unknown, interval the whole range
    two = usage[2]
    assert (two.uses, two.deals, two.win_rate, two.win_low, two.win_high, two.helped_rate) == (0, 0, None, 0.0, 1.0, None)


def test_a_deal_used_twice_counts_once_and_open_deals_carry_no_outcome():
    # given two uses of one asset on the same won deal and one on an open deal
    uses = [UseRow(1, 10, 100, _at(2, 1), None), UseRow(1, 10, None, _at(2, 2), None), UseRow(1, 10, 101, _at(3, 6), None)]
    # when usage is computed
    one = asset_usage(uses, DEALS)[1]
    # then deal 100 counts once, 101 is open
    assert (one.deals, one.open_deals, one.won, one.lost, one.closed, one.win_rate) == (2, 1, 1, 0, 1, 1.0)


def test_the_baseline_is_the_win_rate_of_all_closed_deals():
    # given one won and two lost closed deals and one open / when / then
    base = baseline(DEALS)
    low, high = proportion_confint(1, 3, alpha=0.05, method="wilson")
    assert (base.won, base.lost) == (1, 2)
    assert base.win_rate == pytest.approx(1 / 3)
    assert (base.win_low, base.win_high) == (pytest.approx(low), pytest.approx(high))


def test_gaps_are_unanswered_themes_ranked_by_lost_deals_then_by_how_often_heard():
    # given three themes, one answered by an asset, and who asked what
    themes = [ThemeRow(1, "pricing"), ThemeRow(2, "security"), ThemeRow(3, "support")]
    asked = [AskedRow(1, 10), AskedRow(1, 11), AskedRow(1, 11), AskedRow(2, 10), AskedRow(3, 12)]
    deals = [
        DealRow(1, 10, _at(1, 1), _at(2, 1), "lost"),
        DealRow(2, 11, _at(1, 1), _at(2, 1), "won"),
        DealRow(3, 11, _at(1, 1), _at(2, 1), "lost"),
        DealRow(4, 12, _at(1, 1), _at(2, 1), "lost"),
        DealRow(5, 12, _at(1, 1), _at(2, 1), "lost"),
        DealRow(6, 12, _at(1, 1), None, "open"),
    ]
    # when gaps are computed
    gaps = content_gaps(themes=themes, asked=asked, deals=deals, answered=[2], min_questions=1, examples={1: ["a", "b", "c", "d"]})
    # then security is not a gap; pricing (2 lost of 3 closed, heard 3 times) ranks above support (2 lost of 2, heard once)
    assert [(g.label, g.questions, g.people, g.lost_deals, g.closed_deals) for g in gaps] == [
        ("pricing", 3, 2, 2, 3),
        ("support", 1, 1, 2, 2),
    ]
    low, high = proportion_confint(2, 3, alpha=0.05, method="wilson")
    assert gaps[0].lost_share == pytest.approx(2 / 3)
    assert (gaps[0].lost_low, gaps[0].lost_high) == (pytest.approx(low), pytest.approx(high))
    assert gaps[0].examples == ("a", "b", "c")
    # and themes heard fewer times than the threshold are left out
    assert [g.label for g in content_gaps(themes=themes, asked=asked, deals=deals, answered=[2], min_questions=2)] == ["pricing"]
