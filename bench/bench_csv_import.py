"""Benchmark: import the real CSV exports through the shipped mappings into a fresh database: X Education's
9,240 leads (then again, a no-op), Olist's 8,000 MQLs and 842 won deals. Target: X Education's first import
in at most 10 s on 2 cores, and a re-import that changes nothing.

Run: .venv/bin/python bench/bench_csv_import.py [--database-url URL] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 10.0
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA, help="the shared data folder")
    parser.add_argument(
        "--database-url",
        default="",
        help="an EMPTY database to use instead of a fresh temporary SQLite file (e.g. a PostgreSQL one)",
    )
    args = parser.parse_args()
    leads = args.data / "x_education_leads" / "Leads.csv"
    olist = args.data / "olist_marketing_funnel"
    if not leads.is_file() or not olist.is_dir():
        print(f"{args.data} does not hold the X Education and Olist files", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as tmp:
        work = Path(tmp)
        # The database and var/ must be chosen before Django reads its settings.
        os.environ["TANDEM_DATABASE_URL"] = args.database_url or f"sqlite:///{work / 'bench.sqlite3'}"
        os.environ["TANDEM_VAR_DIR"] = str(work / "var")
        os.environ["DJANGO_SETTINGS_MODULE"] = "tandem.settings"
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        from tandem.capture.csvimport.mapping import table_read
        from tandem.capture.csvimport.selectors import mapping_resolve
        from tandem.capture.csvimport.services import CsvImportResult, csv_import_table
        from tandem.crm.models import Person

        call_command("migrate", verbosity=0)
        if Person.objects.exists():
            print("the database is not empty: give --database-url an empty one", file=sys.stderr)
            return 2
        print(f"cpus: {os.cpu_count()}; database: {connection.vendor}")

        def run(path: Path, kind: str, mapping: str) -> tuple[float, CsvImportResult]:
            started = time.perf_counter()
            table = table_read(data=path.read_bytes(), name=path.name)
            resolved = mapping_resolve(name=mapping, kind=kind, headers=table.headers)
            result = csv_import_table(
                table=table,
                mapping=resolved,
                mode="all_or_nothing",
                dry_run=False,
                by_user=None,
                progress=lambda label, done, total: None,
            )
            seconds = time.perf_counter() - started
            counts = "  ".join(f"{k} {v}" for k, v in result.counts.items())
            print(
                f"{path.name:<48} {resolved.name:<12} {seconds:6.2f} s "
                f"{len(table.rows) / seconds:8,.0f} rows/s  {counts}"
            )
            return seconds, result

        first, _ = run(leads, "people", "auto")
        _, again = run(leads, "people", "auto")
        run(olist / "olist_marketing_qualified_leads_dataset.csv", "people", "olist-mql")
        run(olist / "olist_closed_deals_dataset.csv", "deals", "olist-deals")
        unchanged = again.counts["unchanged"] == again.total_rows == 9240
        ok = first <= TARGET_SECONDS and unchanged
        print(
            f"target: X Education first import <= {TARGET_SECONDS:.0f} s and a no-op re-import: "
            f"{'PASS' if ok else 'FAIL'}"
        )
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
