"""ChannelAttribution's PathData (10,000 aggregated paths): the vectorised models against straightforward
implementations written here (plain loops over the rows, the Markov chain through its fundamental matrix)."""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pytest

from tandem.stats.attribution import HEURISTIC_MODELS, Journeys, attribute

pytestmark = pytest.mark.shared_data

Row = tuple[list[str], int, float, int]


def read_rows(shared_data: Path) -> list[Row]:
    with (shared_data / "channel_attribution_paths" / "PathData.csv").open(newline="") as handle:
        return [
            (
                [part.strip() for part in row["path"].split(">")],
                int(row["total_conversions"]),
                float(row["total_conversion_value"]),
                int(row["total_null"]),
            )
            for row in csv.DictReader(handle)
        ]


def journeys_of(rows: list[Row]) -> Journeys:
    return Journeys.from_aggregated(
        [r[0] for r in rows],
        conversions=[r[1] for r in rows],
        conversion_value=[r[2] for r in rows],
        nulls=[r[3] for r in rows],
    )


def shares_by_hand(path: list[str], model: str, half_life: float) -> list[float]:
    n = len(path)
    if model == "first_touch":
        return [1.0] + [0.0] * (n - 1)
    if model == "last_touch":
        return [0.0] * (n - 1) + [1.0]
    if model == "linear":
        return [1.0 / n] * n
    if model == "time_decay":
        weights = [2.0 ** (-(n - 1 - i) / half_life) for i in range(n)]
        return [w / sum(weights) for w in weights]
    if model == "position_based":
        if n == 1:
            return [1.0]
        if n == 2:
            return [0.5, 0.5]
        return [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]
    if model == "w_shaped":  # no lead / opportunity touches in PathData: first 90 %, the rest 10 %
        if n == 1:
            return [1.0]
        return [0.9] + [0.1 / (n - 1)] * (n - 1)
    raise AssertionError(model)


@pytest.mark.parametrize("model", HEURISTIC_MODELS)
def test_heuristic_models_match_a_loop_over_the_rows(shared_data, model):
    # given
    rows = read_rows(shared_data)
    journeys = journeys_of(rows)
    half_life = 2.0
    expected_conv: dict[str, float] = {}
    expected_rev: dict[str, float] = {}
    for path, conversions, value, _ in rows:
        for key, share in zip(path, shares_by_hand(path, model, half_life), strict=True):
            expected_conv[key] = expected_conv.get(key, 0.0) + share * conversions
            expected_rev[key] = expected_rev.get(key, 0.0) + share * value

    # when
    options = {"half_life": half_life} if model == "time_decay" else {}
    result = attribute(journeys, model, **options)

    # then
    assert result.total_conversions == 19_785
    assert result.total_revenue == pytest.approx(74_802.97158721, abs=1e-6)
    for key, conv, rev in zip(result.keys, result.conversions, result.revenue, strict=True):
        assert conv == pytest.approx(expected_conv[key], abs=1e-9), key
        assert rev == pytest.approx(expected_rev[key], abs=1e-9), key


def test_markov_matches_the_fundamental_matrix(shared_data):
    # given: the chain counted path by path, with consecutive repeats collapsed as ChannelAttribution does
    # (in a first-order chain self-transitions cannot change absorption probabilities)
    rows = read_rows(shared_data)
    journeys = journeys_of(rows)
    channels = sorted({k for path, *_ in rows for k in path})
    states = ["(start)", *channels]
    index = {s: i for i, s in enumerate(states)}
    counts = np.zeros((len(states), len(states) + 2))  # last two columns: conversion, null
    for path, conversions, _, nulls in rows:
        collapsed = [k for i, k in enumerate(path) if i == 0 or path[i - 1] != k]
        steps = ["(start)", *collapsed]
        for a, b in itertools.pairwise(steps):
            counts[index[a], index[b]] += conversions + nulls
        counts[index[steps[-1]], len(states)] += conversions
        counts[index[steps[-1]], len(states) + 1] += nulls
    probabilities = counts / counts.sum(axis=1, keepdims=True)

    def p_conversion(removed: str | None) -> float:
        q = probabilities[:, : len(states)].copy()
        r = probabilities[:, len(states)].copy()
        if removed is not None:  # every transition out of the removed channel goes to null
            q[index[removed], :] = 0.0
            r[index[removed]] = 0.0
        fundamental = np.linalg.inv(np.eye(len(states)) - q)
        return float((fundamental @ r)[index["(start)"]])

    base = p_conversion(None)
    effects = {c: 1.0 - p_conversion(c) / base for c in channels}
    total_conv = sum(r[1] for r in rows)
    total_value = sum(r[2] for r in rows)

    # when
    result = attribute(journeys, "markov")

    # then
    assert result.params["conversion_probability"] == pytest.approx(base, abs=1e-12)
    assert result.removal_effect is not None
    for key, effect, conv, rev in zip(
        result.keys, result.removal_effect, result.conversions, result.revenue, strict=True
    ):
        assert effect == pytest.approx(effects[key], abs=1e-12), key
        assert conv == pytest.approx(total_conv * effects[key] / sum(effects.values()), abs=1e-9), key
        assert rev == pytest.approx(total_value * effects[key] / sum(effects.values()), abs=1e-9), key
    assert float(result.conversions.sum()) == pytest.approx(total_conv, abs=1e-9)


def test_markov_removal_effects_agree_with_channelattributions_long_simulation(shared_data):
    # given: ChannelAttribution 2.2.5's markov_model on PathData with nsim_start=1e7 (seed 0; run once on the
    # development machine, 10 s): its simulated removal effects, noise about ±0.002
    simulated = {
        "eta": 0.347117,
        "iota": 0.405809,
        "alpha": 0.558727,
        "beta": 0.263711,
        "theta": 0.205904,
        "lambda": 0.133815,
        "kappa": 0.028749,
        "zeta": 0.039682,
        "epsilon": 0.062641,
        "gamma": 0.017924,
        "delta": 0.000483,
        "mi": 0.000237,
    }
    journeys = journeys_of(read_rows(shared_data))

    # when
    result = attribute(journeys, "markov")

    # then
    assert result.removal_effect is not None
    effect = dict(zip(result.keys, result.removal_effect.tolist(), strict=True))
    assert effect == pytest.approx(simulated, abs=0.005)
