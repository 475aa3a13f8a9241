"""Benchmark: import a generated bundle of 40,000 people, 110,000 touchpoints and 10,000 deals into a fresh
SQLite database, then import it again (a no-op). Target: the first import in at most 15 s on 2 cores.

Run: .venv/bin/python bench/bench_bundle_import.py [--people N] [--seed S]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

# Pure Python (no ORM): importable before Django is set up.
from tandem.capture.bundle import COLUMNS

TARGET_SECONDS = 15.0
CHANNELS = [
    "organic_search",
    "paid_search",
    "paid_social",
    "email",
    "webinar",
    "events",
    "referral",
    "direct",
]
KINDS = ["page_view", "form_submit", "email_click", "ad_click", "webinar", "content_download", "demo_request"]
INDUSTRIES = ["software", "manufacturing", "finance", "healthcare", "retail", "education", "logistics"]
SIZES = ["1-10", "11-50", "51-200", "201-1000", "1001-5000", "5001+"]
COUNTRIES = ["DE", "FR", "GB", "US", "NL", "ES", "IT", "SE", "PL", "CA"]
TITLES = ["CEO", "CTO", "Head of Marketing", "Sales Manager", "Engineer", "Analyst", "Operations Lead"]
FIRST = ["Alex", "Sam", "Maria", "Jonas", "Lea", "Noah", "Emma", "Liam", "Mia", "Ben", "Sofia", "Paul"]
LAST = ["Smith", "Müller", "Garcia", "Rossi", "Dubois", "Novak", "Jensen", "Silva", "Kowalski", "Brown"]
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com"]
REASONS = ["No budget", "Chose a competitor", "Bad timing", "No decision"]
T0 = dt.datetime(2023, 1, 1, tzinfo=dt.UTC)


def _when(seconds: np.ndarray) -> list[str]:
    return [(T0 + dt.timedelta(seconds=int(s))).strftime("%Y-%m-%dT%H:%M:%SZ") for s in seconds]


def generate(directory: Path, *, people: int, touchpoints: int, deals: int, seed: int) -> dict[str, int]:
    """Write a bundle of the given size (plus 200 campaigns and 3,000 questions); returns rows per file."""
    rng = np.random.default_rng(seed)
    year = 365 * 86400
    campaigns = 200
    starts = rng.integers(0, 2 * 365, campaigns)
    campaign_rows = [
        [
            f"C{i:04d}",
            f"Campaign {i}",
            CHANNELS[i % len(CHANNELS)],
            (T0.date() + dt.timedelta(days=int(s))).isoformat(),
            (T0.date() + dt.timedelta(days=int(s) + 30 + i % 90)).isoformat(),
            f"{rng.integers(100, 50000)}.{rng.integers(0, 100):02d}",
        ]
        for i, s in enumerate(starts)
    ]
    companies = max(1, people // 10)
    company_of = rng.integers(0, companies, people)
    free = rng.random(people) < 0.2
    created = rng.integers(0, 2 * year, people)
    person_rows = []
    emails = []
    for i in range(people):
        c = int(company_of[i])
        domain = FREE_MAIL[i % 3] if free[i] else f"company{c}.example"
        emails.append(f"person{i}@{domain}")
        person_rows.append(
            [
                emails[-1],
                FIRST[i % len(FIRST)],
                LAST[(i // 7) % len(LAST)],
                f"Company {c}",
                INDUSTRIES[c % len(INDUSTRIES)],
                SIZES[c % len(SIZES)],
                COUNTRIES[c % len(COUNTRIES)],
                TITLES[i % len(TITLES)],
                _when(created[i : i + 1])[0],
                f"segment-{c % 5}",
            ]
        )
    who = rng.integers(0, people, touchpoints)
    touch_at = created[who] + rng.integers(-30 * 86400, 200 * 86400, touchpoints)
    with_campaign = rng.random(touchpoints) < 0.7
    campaign_of = rng.integers(0, campaigns, touchpoints)
    touch_rows = [
        [
            emails[int(w)],
            at,
            CHANNELS[int(campaign_of[k]) % len(CHANNELS)]
            if with_campaign[k]
            else CHANNELS[k % len(CHANNELS)],
            f"C{int(campaign_of[k]):04d}" if with_campaign[k] else "",
            KINDS[k % len(KINDS)],
        ]
        for k, (w, at) in enumerate(zip(who, _when(touch_at), strict=True))
    ]
    buyer = rng.choice(people, deals, replace=False)
    opened = created[buyer] + rng.integers(86400, 120 * 86400, deals)
    closed = opened + rng.integers(86400, 90 * 86400, deals)
    stage = rng.choice(["open", "won", "lost"], deals, p=[0.4, 0.3, 0.3])
    deal_rows = [
        [
            f"D{k:06d}",
            emails[int(b)],
            f"{rng.integers(1000, 90000)}.00",
            s,
            o,
            "" if s == "open" else c,
            REASONS[k % len(REASONS)] if s == "lost" else "",
        ]
        for k, (b, s, o, c) in enumerate(zip(buyer, stage, _when(opened), _when(closed), strict=True))
    ]
    asker = rng.integers(0, people, 3000)
    question_rows = [
        [emails[int(a)], at, f"Does it integrate with tool {k % 40}?"]
        for k, (a, at) in enumerate(zip(asker, _when(created[asker] + 3600), strict=True))
    ]
    tables = {
        "campaigns.csv": (COLUMNS["campaigns.csv"], campaign_rows),
        "people.csv": ((*COLUMNS["people.csv"], "segment"), person_rows),
        "touchpoints.csv": (COLUMNS["touchpoints.csv"], touch_rows),
        "deals.csv": (COLUMNS["deals.csv"], deal_rows),
        "questions.csv": (COLUMNS["questions.csv"], question_rows),
    }
    for name, (header, rows) in tables.items():
        with (directory / name).open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
    return {name: len(rows) for name, (_, rows) in tables.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=40_000)
    parser.add_argument("--touchpoints", type=int, default=110_000)
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database-url",
        default="",
        help="an EMPTY database to use instead of a fresh temporary SQLite file (e.g. a PostgreSQL one)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as tmp:
        work = Path(tmp)
        bundle = work / "bundle"
        bundle.mkdir()
        # The database and var/ must be chosen before Django reads its settings.
        os.environ["TANDEM_DATABASE_URL"] = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
        os.environ["TANDEM_VAR_DIR"] = str(work / "var")
        os.environ["DJANGO_SETTINGS_MODULE"] = "tandem.settings"
        import django

        django.setup()
        from django.core.management import call_command

        from tandem.capture.services import bundle_import

        started = time.perf_counter()
        rows = generate(
            bundle, people=args.people, touchpoints=args.touchpoints, deals=args.deals, seed=args.seed
        )
        generated = time.perf_counter() - started
        call_command("migrate", verbosity=0)
        from django.db import connection

        from tandem.crm.models import Person

        if Person.objects.exists():
            print("the database is not empty: give --database-url an empty one", file=sys.stderr)
            return 2
        total = sum(rows.values())
        print(f"bundle: {', '.join(f'{n} {v:,}' for n, v in rows.items())} ({total:,} rows)")
        print(f"generated in {generated:.1f} s; cpus: {os.cpu_count()}; database: {connection.vendor}")

        started = time.perf_counter()
        result = bundle_import(directory=bundle)
        first = time.perf_counter() - started
        print(
            f"first import:  {first:6.2f} s  {total / first:10,.0f} rows/s  ({result.stage_changes:,} stage changes)"
        )

        started = time.perf_counter()
        again = bundle_import(directory=bundle)
        second = time.perf_counter() - started
        print(
            f"re-import:     {second:6.2f} s  {total / second:10,.0f} rows/s  (changed anything: {again.changed})"
        )
        ok = first <= TARGET_SECONDS and not again.changed
        print(
            f"target: first import <= {TARGET_SECONDS:.0f} s and a no-op re-import: {'PASS' if ok else 'FAIL'}"
        )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
