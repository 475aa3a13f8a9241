from __future__ import annotations

import pytest

from tandem.crm.stages import ALLOWED, FUNNEL, Stage, can_move, rank


def test_every_stage_has_a_rule():
    assert set(ALLOWED) == set(Stage)


@pytest.mark.parametrize(
    ("source", "target", "allowed"),
    [
        (None, "lead", True),
        (None, "sal", False),
        ("lead", "mql", True),
        ("lead", "customer", True),
        ("mql", "lead", False),
        ("sql", "recycled", True),
        ("recycled", "mql", True),
        ("customer", "lead", False),
        ("customer", "disqualified", False),
        ("opportunity", "sql", False),
        ("disqualified", "lead", True),
        ("lead", "nonsense", False),
        ("nonsense", "lead", False),
    ],
)
def test_can_move(source, target, allowed):
    assert can_move(source, target) is allowed


def test_forward_moves_are_allowed_and_backward_are_not_on_the_funnel():
    for i, source in enumerate(FUNNEL):
        for j, target in enumerate(FUNNEL):
            assert can_move(source, target) is (j > i), (source, target)


def test_rank_puts_statuses_off_the_funnel():
    assert rank("lead") == 1
    assert rank("customer") == 6
    assert rank("recycled") == -1
