"""Statistics pages on the demo company: every page must open in under 1 s on SQLite.

Loads the demo company (`tandem demo --no-serve`, ~20,000 people) into a temporary SQLite database, adds a
20,000-unit experiment through the import service, then renders each page with Django's test Client: one
warm-up request, then the median of 5. Run: .venv/bin/python bench/bench_stats_pages.py [--keep DIR].
Exits non-zero if a page misses the target.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

TARGET_S = 1.0
RUNS = 5
PAGES = [
    ("control charts: volume per channel, week", "/statistics/", {}),
    ("control charts: win rate per campaign, week", "/statistics/", {"metric": "win_rate", "by": "campaign"}),
    ("control charts: volume per channel, day", "/statistics/", {"period": "day"}),
    ("control charts: SQL rate, whole company", "/statistics/", {"metric": "sql_rate", "by": "all"}),
    ("segments: channel, won", "/statistics/segments/", {}),
    ("segments: industry x size band, SQL", "/statistics/segments/", {"by": "industry", "by2": "size_band", "metric": "sql"}),
    ("segments: job title, won", "/statistics/segments/", {"by": "job_title"}),
    ("experiments: list and planner", "/statistics/experiments/", {}),
    ("experiment: 20,000 units over 28 days", "/statistics/experiments/bench-cta/", {}),
]


def experiment_csv(units: int) -> str:
    import numpy as np

    rng = np.random.default_rng(7)
    lines = ["unit_id,variant,assigned_at,converted"]
    for i in range(units):
        variant = "control" if i % 2 == 0 else "b"
        rate = 0.10 if variant == "control" else 0.11
        day = 1 + int(rng.integers(0, 28))
        lines.append(f"u{i},{variant},2026-02-{day:02d}T12:00:00,{int(rng.random() < rate)}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", help="use (and keep) this directory instead of a temporary one")
    args = parser.parse_args()
    from demo_database import demo_database_setup

    demo_database_setup(keep=args.keep, prefix="bench_stats_")
    from django.test import Client

    from tandem.analytics.statistics.models import Experiment
    from tandem.analytics.statistics.services import experiment_create, experiment_import_csv
    from tandem.crm.models import Person
    from tandem.users.models import Role, User

    if not Experiment.objects.filter(name="bench-cta").exists():
        exp = experiment_create(name="bench-cta", variants=["control", "b"], metric="clicks", minimum_effect=0.01)
        experiment_import_csv(experiment=exp, source=experiment_csv(20_000))
    user = User.objects.filter(role=Role.MARKETING).first()
    assert user is not None, "the demo company has a marketing user"
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    print(f"{Person.objects.count():,} people; median of {RUNS} after one warm-up, target {TARGET_S:.1f} s")
    missed = 0
    for label, url, params in PAGES:
        response = client.get(url, params)
        assert response.status_code == 200, (url, response.status_code)
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            response = client.get(url, params)
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        ok = median < TARGET_S
        missed += not ok
        print(f"{label:48s} {median * 1000:7.0f} ms  {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
