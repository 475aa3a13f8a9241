"""The hand-off on the demo company: the dry run of a changed MQL definition and the SLA scorecard must each
take under 2 s on SQLite.

Loads the demo company (`tandem demo --no-serve`, ~20,000 people) into a temporary SQLite database unless
--keep names a directory that already holds one, then times the dry run of a changed definition (a demo
request, or 5 touchpoints of kind webinar/content download in 45 days) twice: the selector alone and the
whole definitions page (POST, as an admin, through Django's test Client), then the SLA scorecard over the
whole two years (selector and page), the minute SLA check (breaches in each owner's team calendar, then
re-routes) and the minute qualify sweep when nothing changed. One warm-up, then the median of 3.
Run: .venv/bin/python bench/bench_handoff.py [--keep DIR]. Exits non-zero if a target is missed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time

TARGET_S = 2.0
RUNS = 3
CHANGED = {
    "name": "mql",
    "any": [
        {"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 30},
        {"id": "engaged", "type": "touchpoint_count", "min_count": 5, "kinds": ["webinar", "content_download"], "days": 45},
    ],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", help="use (and keep) this directory instead of a temporary one")
    args = parser.parse_args()
    from demo_database import demo_database_setup

    demo_database_setup(keep=args.keep, prefix="bench_handoff_")
    from django.test import Client
    from django.test.utils import setup_test_environment

    from tandem.campaigns.models import Touchpoint
    from tandem.crm.models import Person
    from tandem.lifecycle.selectors import definition_dry_run, sla_scorecard
    from tandem.lifecycle.services import (
        people_qualify_recent,
        sla_breaches_detect,
        sla_reroutes_apply,
    )
    from tandem.users.models import Role, User

    setup_test_environment()
    print(f"demo company: {Person.objects.count():,} people, {Touchpoint.objects.count():,} touchpoints")
    admin = User.objects.filter(role=Role.ADMIN).first() or User.objects.filter(is_superuser=True).first()
    client = Client()
    client.force_login(admin)

    def selector() -> None:
        definition_dry_run(spec=CHANGED)

    def page() -> None:
        response = client.post(
            "/definitions/", {"action": "dry_run", "stage": "mql", "spec": json.dumps(CHANGED)}, HTTP_HOST="localhost"
        )
        assert response.status_code == 200, response.status_code

    def scorecard() -> None:
        sla_scorecard(start=dt.datetime(2000, 1, 1, tzinfo=dt.UTC), end=dt.datetime.now(dt.UTC))

    def scorecard_page() -> None:
        response = client.get("/sla/", {"from": "2000-01-01"}, HTTP_HOST="localhost")
        assert response.status_code == 200, response.status_code

    def sla_minute() -> None:
        sla_breaches_detect()
        sla_reroutes_apply()

    def sweep_idle() -> None:
        people_qualify_recent()

    missed = False
    for label, fn in (
        ("dry run (selector)", selector),
        ("dry run (definitions page)", page),
        ("SLA scorecard (selector)", scorecard),
        ("SLA scorecard (page)", scorecard_page),
        ("SLA minute check", sla_minute),
        ("qualify sweep, idle", sweep_idle),
    ):
        fn()
        times = []
        for _ in range(RUNS):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        median = statistics.median(times)
        ok = median < TARGET_S
        missed |= not ok
        print(f"{label:<30} median {median:6.3f} s  (target {TARGET_S} s) {'ok' if ok else 'MISSED'}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
