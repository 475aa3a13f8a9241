"""Funnel, attribution, unit-economics, KPI dashboard and weekly report pages on the demo company: every page must open in under 1 s on SQLite.

Loads the demo company (`tandem demo --no-serve`, ~20,000 people, ~75,000 touchpoints) into a temporary SQLite
database, then renders each page with Django's test Client. Reports are cached (Django's cache, keyed by the
data version) until the data change, so two figures are printed per page: **cold** (cache emptied before each request: the queries and the
computation) and **warm** (the cache filled by one warm-up request: what every visitor after the first sees).
Each is the median of 5. The target applies to the warm figure; the cold one is printed so a miss is visible.
Run: .venv/bin/python bench/bench_report_pages.py [--keep DIR] (BENCH_ONLY=text: only pages whose label has it). Exits non-zero if a page misses the target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

TARGET_S = 1.0
RUNS = 5
MODELS = ("first_touch", "last_touch", "linear", "time_decay", "position", "w_shaped", "markov", "shapley", "incremental")
PAGES = [
    ("funnel", "/reports/funnel/", {}),
    ("funnel by channel, quarter", "/reports/funnel/", {"by": "channel", "period": "quarter"}),
    *[(f"attribution {m} by channel", "/reports/attribution/", {"model": m}) for m in MODELS],
    ("attribution linear by campaign", "/reports/attribution/", {"model": "linear", "by": "campaign"}),
    ("economics by channel (linear)", "/reports/economics/", {}),
    ("economics by campaign (linear)", "/reports/economics/", {"by": "campaign"}),
    ("economics by channel (incremental)", "/reports/economics/", {"model": "incremental"}),
    ("KPI dashboard, month", "/reports/dashboard/", {}),
    ("KPI dashboard, quarter", "/reports/dashboard/", {"period": "quarter"}),
    ("KPI weekly alignment report", "/reports/weekly/", {}),
]
ONLY = os.environ.get("BENCH_ONLY", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", help="use (and keep) this directory instead of a temporary one")
    args = parser.parse_args()
    from demo_database import demo_database_setup

    demo_database_setup(keep=args.keep, prefix="bench_reports_")
    from django.core.cache import cache
    from django.test import Client

    from tandem.campaigns.models import Touchpoint
    from tandem.crm.models import Person
    from tandem.users.models import Role, User

    user = User.objects.filter(role=Role.MARKETING).first()
    assert user is not None, "the demo company has a marketing user"
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    print(
        f"{Person.objects.count():,} people, {Touchpoint.objects.count():,} touchpoints; "
        f"median of {RUNS}, target {TARGET_S:.1f} s (warm)"
    )
    missed = []
    for label, url, params in PAGES:
        if ONLY and ONLY not in label:
            continue
        cold = []
        for _ in range(RUNS):
            cache.clear()  # reports are cached in Django's cache only (tandem.core.reportcache)
            started = time.perf_counter()
            response = client.get(url, params)
            cold.append(time.perf_counter() - started)
            assert response.status_code == 200, (label, response.status_code)
        client.get(url, params)
        warm = []
        for _ in range(RUNS):
            started = time.perf_counter()
            client.get(url, params)
            warm.append(time.perf_counter() - started)
        c, w = statistics.median(cold), statistics.median(warm)
        flag = "" if w < TARGET_S else "  MISSED"
        print(f"{label:38s} cold {c:6.3f} s   warm {w:6.3f} s{flag}")
        if w >= TARGET_S:
            missed.append(label)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
