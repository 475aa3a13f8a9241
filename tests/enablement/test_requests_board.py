"""The board's rules on plain values: allowed moves, due-date warnings, lead times, repeat requests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.enablement.requests import board

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("current", "target"),
    [("new", "accepted"), ("new", "declined"), ("accepted", "in_progress"), ("in_progress", "delivered"),
     ("in_progress", "accepted"), ("declined", "new")],
)
def test_allowed_moves_pass(current, target):  # type: ignore[no-untyped-def]
    # given an allowed move (a decline with its reason)
    # when it is checked
    reason = board.move_check(current=current, target=target, reason=" no budget " if target == "declined" else "")
    # then it passes, the reason trimmed
    assert reason == ("no budget" if target == "declined" else "")


@pytest.mark.parametrize(
    ("current", "target"),
    [("new", "in_progress"), ("new", "delivered"), ("accepted", "delivered"), ("delivered", "new"),
     ("delivered", "declined"), ("declined", "accepted"), ("new", "new")],
)
def test_moves_the_board_does_not_allow_are_refused(current, target):  # type: ignore[no-untyped-def]
    # given a move that skips a column, leaves a final one, or stays put
    # when it is checked, then it is refused naming the target
    with pytest.raises(NotAllowed) as exc:
        board.move_check(current=current, target=target, reason="x")
    assert exc.value.field == "to" and exc.value.value == target


def test_an_unknown_column_and_a_decline_without_reason_are_refused():
    # given a target that is no column, and a decline with only spaces as its reason
    # when checked, then both are refused naming their field
    with pytest.raises(ValidationFailed) as unknown:
        board.move_check(current="new", target="done")
    with pytest.raises(ValidationFailed) as no_reason:
        board.move_check(current="new", target="declined", reason="   ")
    assert unknown.value.field == "to"
    assert no_reason.value.field == "reason"


def test_due_warnings_at_the_boundaries():
    # given today, and the three-day "due soon" window
    today = dt.date(2026, 3, 10)
    # then: yesterday is overdue, today and three days ahead are due soon, four days ahead is fine,
    # and a closed request never warns
    assert board.due_status(status="new", due_on=dt.date(2026, 3, 9), today=today) == "overdue"
    assert board.due_status(status="accepted", due_on=today, today=today) == "due_soon"
    assert board.due_status(status="in_progress", due_on=dt.date(2026, 3, 13), today=today) == "due_soon"
    assert board.due_status(status="new", due_on=dt.date(2026, 3, 14), today=today) == ""
    assert board.due_status(status="delivered", due_on=dt.date(2026, 3, 1), today=today) == ""
    assert board.due_status(status="declined", due_on=dt.date(2026, 3, 1), today=today) == ""


def test_lead_times_are_the_median_and_80th_percentile_by_type():
    # given decks delivered after 2, 4, 6, 10 and 20 days and one flyer after 1.5 days
    durations = [("deck", d) for d in (10, 2, 20, 6, 4)] + [("flyer", 1.5)]
    # when summarised
    result = {lt.kind: lt for lt in board.lead_times(durations=durations)}
    # then the deck's median is 6 and its 80th percentile interpolates 10 → 20 at 0.2: 12 (as numpy says)
    assert (result["deck"].n, result["deck"].median_days, result["deck"].p80_days) == (5, 6.0, 12.0)
    assert float(np.percentile([2, 4, 6, 10, 20], 80)) == pytest.approx(12.0)
    assert result["deck"].ask_days_ahead == 12
    assert (result["flyer"].n, result["flyer"].median_days, result["flyer"].p80_days, result["flyer"].ask_days_ahead) == (1, 1.5, 1.5, 2)


def test_purpose_words_drop_stop_words_and_plurals():
    # given a purpose with stop words, plurals, punctuation and case
    # then only content words remain, singular
    assert board.purpose_words("Flyers for the Berlin trade-shows, please!") == {"flyer", "berlin", "trade", "show"}
    assert board.purpose_words("ROI for CFOs: status analysis, sales class") == {"roi", "cfo", "status", "analysis", "sale", "class"}


def _req(i: int, kind: str, purpose: str, rep: int | None, day: int) -> board.RequestText:
    return board.RequestText(id=i, kind=kind, purpose=purpose, requester_id=rep, requested_at=T0 + dt.timedelta(days=day))


def test_requests_that_repeat_across_reps_become_one_suggestion():
    # given three reps asking for a healthcare case study in different words, one rep asking twice for a
    # Berlin flyer, and a deck with the same words as the case studies (another type)
    requests = [
        _req(1, "case_study", "Case study for a hospital group in healthcare", 10, 1),
        _req(2, "case_study", "Healthcare case study, hospital customer", 11, 2),
        _req(3, "case_study", "Need a healthcare hospital case study for a prospect", 12, 3),
        _req(4, "flyer", "Flyer for the Berlin trade show", 10, 4),
        _req(5, "flyer", "Berlin trade show flyer", 10, 5),
        _req(6, "deck", "Healthcare hospital case study deck", 13, 6),
    ]
    # when repeats are looked for
    found = board.repeats_find(requests=requests)
    # then only the case studies qualify (three reps); the flyer came from one rep, the deck is alone
    assert len(found) == 1
    s = found[0]
    assert (s.kind, s.request_ids, s.requester_ids, s.n_requests, s.n_reps) == ("case_study", [1, 2, 3], [10, 11, 12], 3, 3)
    assert s.label == "case healthcare hospital study"
    assert s.examples[0] == "Need a healthcare hospital case study for a prospect"
    assert s.last_requested_at == T0 + dt.timedelta(days=3)


def test_dissimilar_purposes_of_one_type_stay_apart():
    # given two reps asking for swag for unrelated things
    requests = [_req(1, "swag", "T-shirts for the hackathon", 1, 1), _req(2, "swag", "Mugs for customer onboarding gift", 2, 2)]
    # then nothing repeats
    assert board.repeats_find(requests=requests) == []
