"""Attribution over a million journeys: every model against its time target, and the exact Markov model
against ChannelAttribution's simulated `markov_model` on the same paths.

Generates 1,000,000 journeys (seeded): 12 channels, geometric path lengths (mean 4), touch times in days,
lead/opportunity touches, a two-feature profile, about 20 % converting with revenue. Times each model
(median of --runs runs; incremental once, it is the slow one), then aggregates the paths into
ChannelAttribution's data frame (path, total_conversions, total_conversion_value, total_null) and times its
`markov_model` with default settings. ChannelAttribution is GPL: a dev-only bench extra, imported here only.

Run: .venv/bin/python bench/bench_attribution.py [--journeys N] [--runs R] [--bootstrap B] [--no-reference]
Targets: each heuristic and Markov < 1 s, Shapley < 5 s, incremental with bootstrap < 60 s, and Markov
faster than ChannelAttribution. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tandem.stats.attribution import (
    HEURISTIC_MODELS,
    AttributionResult,
    Journeys,
    attribute,
)

CHANNELS = (
    "email",
    "paid_search",
    "organic_search",
    "social",
    "display",
    "webinar",
    "event",
    "referral",
    "partner",
    "content",
    "direct",
    "sales_outreach",
)
TARGETS = {**dict.fromkeys(HEURISTIC_MODELS, 1.0), "markov": 1.0, "shapley": 5.0, "incremental": 60.0}


def generate(n: int, seed: int = 20261123) -> Journeys:
    """Seeded synthetic journeys: channel mix, sticky sequences, profile-dependent conversion and revenue."""
    rng = np.random.default_rng(seed)
    k = len(CHANNELS)
    lengths = rng.geometric(0.25, size=n).astype(np.int64)  # mean 4
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    popularity = np.array([18, 14, 16, 10, 9, 5, 3, 5, 3, 8, 6, 3], dtype=np.float64)
    codes = rng.choice(k, size=total, p=popularity / popularity.sum()).astype(np.int64)
    # People come back through the channel they used last about a third of the time.
    repeat = rng.random(total) < 0.3
    repeat[offsets[:-1]] = False
    idx = np.arange(total)
    source = np.where(repeat, -1, idx)
    source = np.maximum.accumulate(source)
    codes = codes[source]
    gaps = rng.exponential(5.0, size=total)  # days between touches
    start = rng.uniform(0, 365, size=n)
    times = np.cumsum(gaps)
    times = times - np.repeat(times[offsets[:-1]], lengths) + np.repeat(start, lengths)
    size_band = rng.integers(0, 4, size=n)
    inbound = rng.random(n) < 0.6
    profile = np.column_stack([(size_band[:, None] == np.arange(1, 4)).astype(np.float64), inbound.astype(np.float64)])
    lift = np.array([0.35, 0.25, 0.2, 0.05, 0.0, 0.6, 0.5, 0.4, 0.3, 0.1, 0.0, 0.45])
    jid = np.repeat(np.arange(n), lengths)
    touched = np.zeros((n, k), dtype=bool)
    touched[jid, codes] = True
    logit = -2.65 + touched @ lift + 0.25 * size_band + 0.3 * inbound
    converted = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    revenue = np.where(converted, rng.lognormal(8.5, 0.8, size=n) * (1 + size_band), 0.0)
    lead_index = np.where(rng.random(n) < 0.8, rng.integers(0, lengths), -1)
    opportunity_index = np.where(converted, np.maximum(lead_index, rng.integers(0, lengths)), -1)
    return Journeys(
        keys=CHANNELS,
        codes=codes,
        offsets=offsets,
        converted=converted,
        revenue=revenue,
        count=np.ones(n, dtype=np.int64),
        times=times,
        lead_index=lead_index,
        opportunity_index=opportunity_index,
        profile=profile,
    )


def timed(run: Callable[[], AttributionResult], runs: int) -> tuple[float, AttributionResult]:
    times = []
    result = None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - t0)
    assert result is not None
    return statistics.median(times), result


def channel_attribution_frame(j: Journeys) -> Any:
    """The journeys as ChannelAttribution's input: one row per distinct path with its counts and value."""
    import pandas as pd

    names = np.array(CHANNELS, dtype=object)[j.codes]
    paths = [" > ".join(names[a:b]) for a, b in zip(j.offsets[:-1].tolist(), j.offsets[1:].tolist(), strict=True)]
    frame = pd.DataFrame(
        {
            "path": paths,
            "total_conversions": (j.converted * j.count).astype(np.int64),
            "total_conversion_value": j.revenue,
            "total_null": ((~j.converted) * j.count).astype(np.int64),
        }
    )
    return frame.groupby("path", as_index=False, sort=False).sum()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--journeys", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--no-reference", action="store_true", help="skip ChannelAttribution")
    args = parser.parse_args()

    t0 = time.perf_counter()
    journeys = generate(args.journeys)
    conv = float((journeys.converted * journeys.count).sum())
    print(
        f"{journeys.n_journeys:,} journeys, {journeys.codes.size:,} touches, {len(journeys.keys)} channels, "
        f"{conv / journeys.n_journeys:.1%} converted; generated in {time.perf_counter() - t0:.1f} s"
    )
    missed: list[str] = []
    results: dict[str, AttributionResult] = {}
    print(f"{'model':<16}{'seconds':>10}{'target':>10}  ok")
    for model, target in TARGETS.items():
        if model == "incremental":
            seconds, result = timed(lambda: attribute(journeys, "incremental", bootstrap=args.bootstrap), 1)
        else:
            seconds, result = timed(lambda m=model: attribute(journeys, m), args.runs)  # type: ignore[misc]
        results[model] = result
        ok = seconds < target
        if not ok:
            missed.append(model)
        print(f"{model:<16}{seconds:>10.3f}{target:>10.1f}  {'yes' if ok else 'NO'}", flush=True)

    for model in ("markov", "shapley", "time_decay", "incremental"):
        r = results[model]
        shares = ", ".join(f"{k} {c:,.0f}" for k, c in zip(r.keys, r.conversions, strict=True))
        print(f"  {model}: {shares}")
    inc = results["incremental"]
    assert inc.conversions_low is not None and inc.conversions_high is not None
    print(
        "  incremental 90 % intervals: "
        + ", ".join(
            f"{k} [{lo:,.0f}, {hi:,.0f}]"
            for k, lo, hi in zip(inc.keys, inc.conversions_low, inc.conversions_high, strict=True)
        )
    )

    if not args.no_reference:
        try:
            import ChannelAttribution as ca
        except ImportError:
            print("ChannelAttribution is not installed (pip install -e '.[bench]'): reference skipped")
            return 1 if missed else 0
        t0 = time.perf_counter()
        frame = channel_attribution_frame(journeys)
        print(f"ChannelAttribution input: {len(frame):,} distinct paths, built in {time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        out = ca.markov_model(
            frame,
            "path",
            "total_conversions",
            var_value="total_conversion_value",
            var_null="total_null",
            verbose=False,
            flg_pro=False,
        )
        reference_seconds = time.perf_counter() - t0
        table = out["result"] if isinstance(out, dict) else out
        theirs = dict(zip(table["channel_name"], table["total_conversions"], strict=True))
        ours = results["markov"]
        diffs = [abs(float(theirs.get(k, 0.0)) - float(c)) for k, c in zip(ours.keys, ours.conversions, strict=True)]
        markov_seconds = statistics.median(
            [timed(lambda: attribute(journeys, "markov"), 1)[0] for _ in range(args.runs)]
        )
        faster = markov_seconds < reference_seconds
        if not faster:
            missed.append("markov vs ChannelAttribution")
        print(
            f"ChannelAttribution markov_model (default simulation): {reference_seconds:.3f} s; "
            f"ours (exact): {markov_seconds:.3f} s ({reference_seconds / markov_seconds:.0f}× faster: "
            f"{'yes' if faster else 'NO'}); largest |difference| in attributed conversions {max(diffs):.2f} "
            f"of {ours.total_conversions:,.0f} ({max(diffs) / ours.total_conversions:.3%})"
        )
    if missed:
        print("missed targets: " + ", ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
