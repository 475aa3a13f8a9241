"""Search at a million people: typical queries p50/p95 on SQLite (FTS5) and PostgreSQL (pg_trgm), beside a
plain `icontains` scan and the people list's own search measured in the same run.

Builds a million people at 100,000 companies (70 % with an address at their company's domain, the rest at
free-mail), 20,000 deals and 300 campaigns once through the bulk paths (`core.bulk.rows_copy`: executemany on
SQLite, COPY on PostgreSQL, with the search triggers and indexes in place, so the build also shows what the
index costs a bulk load), and keeps the database for the next run: `var/bench_search/search.sqlite3` and the
PostgreSQL database `tandem_bench_search`. Then it times `search.selectors.search` (everything the header box
asks: four kinds, 5 hits each), the API endpoint, and the baselines. Target: every query's p95 under 100 ms on
both databases; the script exits non-zero otherwise.

Run: .venv/bin/python bench/bench_search.py [--db sqlite postgres] [--people N] [--runs R] [--rebuild]
     .venv/bin/python bench/bench_search.py --import-cost [--db sqlite postgres]
The second form times `bench_bundle_import.py`'s first import (40,000 people, 110,000 touchpoints, 10,000
deals) with and without the search indexes, alternating, to show what they cost a bulk import.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
PG_NAME = "tandem_bench_search"
TARGET_MS = 100.0


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words(
    "anna ben carla david elena felix greta hans ines jonas karin lukas maria noah olga paul rosa sven tara uwe "
    "vera walter xenia yusuf zoe alex mark martin marta nina oscar peter quinn sara tom emma liam mia sofia leo "
    "julia max laura jan lena tim hanna finn clara moritz amelie simon johanna david lisa erik ida oskar frida "
    "marie jakob nora adam eva henri luisa samuel ella anton mila theo maja emil lara ole pia karl"
)
LAST = _words(
    "adams baker clark davis evans fischer garcia hughes ivanov jensen kowalski lopez meyer nowak olsen perez "
    "quinn rossi schmidt taylor ueda varga weber xu young zimmer becker koch wolf richter klein schulz hoffmann "
    "wagner bauer schneider neumann schwarz braun krüger hartmann lange werner lehmann köhler maier herrmann "
    "könig walter mayer huber kaiser fuchs peters lang scholz möller weiß jung hahn keller vogel friedrich "
    "günther berger winkler roth beck lorenz baumann franke albrecht schuster simon ludwig böhm winter kraus "
    "martin schumacher krämer vogt stein jäger otto sommer groß seidel heinrich brandt haas schreiber graf "
    "dietrich ziegler kuhn pohl engel horn busch bergmann thomas voigt sauer arnold wolff pfeiffer"
)
COMPANY_A = _words(
    "nord süd ost west alpen rhein elb main donau isar blau grün rot silber gold stahl glas holz stein licht "
    "wind wasser feuer sonnen stern mond berg tal wald feld see fluss küsten hafen brücken turm burg stadt land "
    "nova terra astra luma vita orbi quanta fera aqua zephyr helio terra-nova blue-sky red-rock bright "
    "clear swift true open prime core next smart green urban global alpha beta delta omega"
)
COMPANY_B = _words(
    "logistik logistics systems software solutions analytics data cloud labs werke technik medical pharma "
    "energie energy foods bau consulting partners ventures capital finance robotics motion mobility media "
    "design studio works industries digital networks security health retail trading textil optik druck"
)
CITIES = _words(
    "Berlin Hamburg München Köln Frankfurt Stuttgart Leipzig Dresden Bremen Hannover Nürnberg Wien Zürich Basel "
    "Graz Linz Paris Lyon London Leeds Dublin Amsterdam Rotterdam Madrid Lisboa Milano Praha Warszawa Oslo Malmö"
)
SUFFIX = ["GmbH", "AG", "Inc", "Ltd", "SE", "KG", "LLC", "BV", "SA", "Group", "& Co", "Holding"]
TLDS = ["com", "de", "io", "net", "co.uk", "fr", "nl", "eu"]
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "gmx.de", "web.de", "icloud.com", "proton.me"]
PRODUCTS = ["renewal", "expansion", "pilot", "platform", "licence", "support plan", "onboarding", "upgrade"]


# ---- building the database (once) ----


def _setup(db: str, people: int, rebuild: bool) -> None:
    if db == "sqlite":
        work = REPO / "var" / "bench_search"
        work.mkdir(parents=True, exist_ok=True)
        path = work / f"search-{people}.sqlite3"
        if rebuild:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        os.environ["TANDEM_DATABASE_URL"] = f"sqlite:///{path}"
        os.environ["TANDEM_VAR_DIR"] = str(work)
    else:
        import psycopg

        name = f"{PG_NAME}_{people}"
        with psycopg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://"), autocommit=True) as conn:
            if rebuild:
                conn.execute(f"DROP DATABASE IF EXISTS {name}")
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
                conn.execute(f"CREATE DATABASE {name}")
        os.environ["TANDEM_DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        os.environ["TANDEM_VAR_DIR"] = str(REPO / "var" / "bench_search")
    os.environ["TANDEM_ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    sys.path.insert(0, str(REPO / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _companies(n: int, rng: random.Random) -> list[tuple[str, str]]:
    names: set[str] = set()
    out = []
    domains: set[str] = set()
    while len(out) < n:
        a, b, s = rng.choice(COMPANY_A), rng.choice(COMPANY_B), rng.choice(SUFFIX)
        name = f"{a.capitalize()}{b}" if rng.random() < 0.3 else f"{a.capitalize()} {b.capitalize()}"
        # 70 x 39 x 12 names are too few for 100,000 companies: most also carry a city.
        name = f"{name} {rng.choice(CITIES)} {s}" if rng.random() < 0.8 else f"{name} {s}"
        if name in names:
            continue
        names.add(name)
        base = f"{a}{b}".replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("ß", "ss")
        domain = f"{base}.{rng.choice(TLDS)}"
        k = 2
        while domain in domains:
            domain = f"{base}{k}.{rng.choice(TLDS)}"
            k += 1
        domains.add(domain)
        out.append((name, domain))
    return out


def _build(people: int, seed: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from tandem.campaigns.models import Campaign
    from tandem.core.bulk import rows_copy
    from tandem.crm.models import Account, Deal
    from tandem.crm.services import people_copy_bulk

    rng = random.Random(seed)
    now = timezone.now()
    t0 = time.perf_counter()
    companies = _companies(max(1, people // 10), rng)
    with transaction.atomic():
        rows_copy(
            model=Account,
            columns=("created_at", "updated_at", "name", "domain", "industry", "country"),
            rows=[(now, now, name, domain, "software", "DE") for name, domain in companies],
            now=now,
        )
    account_ids = list(Account.objects.order_by("id").values_list("id", flat=True))
    t_accounts = time.perf_counter() - t0
    columns = (
        "created_at",
        "updated_at",
        "email",
        "email_normalized",
        "first_name",
        "last_name",
        "name_key",
        "account_id",
        "lifecycle_stage",
        "original_channel",
        "latest_channel",
    )
    seen: set[str] = set()
    chunk = 50_000
    t1 = time.perf_counter()
    for lo in range(0, people, chunk):
        rows = []
        for i in range(lo, min(lo + chunk, people)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            c = rng.randrange(len(companies))
            free = rng.random() < 0.3
            domain = rng.choice(FREE_MAIL) if free else companies[c][1]
            local = (
                f"{first}.{last}".replace("ü", "ue").replace("ö", "oe").replace("ä", "ae").replace("ß", "ss")
            )
            email = f"{local}@{domain}"
            if email in seen:
                email = f"{local}{i}@{domain}"
            seen.add(email)
            created = now - dt.timedelta(seconds=rng.randrange(3 * 365 * 86400))
            rows.append(
                (
                    created,
                    created,
                    email,
                    email,
                    first.capitalize(),
                    last.capitalize(),
                    f"{first} {last}",
                    None if free else account_ids[c],
                    "lead",
                    "paid_search",
                    "paid_search",
                )
            )
        with transaction.atomic():
            people_copy_bulk(columns=columns, rows=rows, now=now, progress=lambda *a: None, label="people")
        print(f"\r  people {min(lo + chunk, people):,}/{people:,}", end="", flush=True)
    t_people = time.perf_counter() - t1
    # Deals at companies, placed on the default pipeline where the model has one.
    deal_fields = {f.attname for f in Deal._meta.concrete_fields}
    extra: tuple[Any, ...] = ()
    extra_cols: tuple[str, ...] = ()
    if "pipeline_id" in deal_fields:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM crm_pipeline ORDER BY is_default DESC, id LIMIT 1")
            pipeline_id = cursor.fetchone()[0]
            cursor.execute(
                "SELECT id FROM crm_pipelinestage WHERE pipeline_id = %s AND kind = 'open' ORDER BY position LIMIT 1",
                [pipeline_id],
            )
            extra, extra_cols = (pipeline_id, cursor.fetchone()[0]), ("pipeline_id", "pipeline_stage_id")
    deals = []
    for _ in range(max(1, people // 50)):
        c = rng.randrange(len(companies))
        name = f"{companies[c][0].rsplit(' ', 1)[0]} {rng.choice(PRODUCTS)}"
        deals.append((now, now, name, account_ids[c], rng.randrange(1000, 90000), "open", *extra))
    t2 = time.perf_counter()
    with transaction.atomic():
        rows_copy(
            model=Deal,
            columns=("created_at", "updated_at", "name", "account_id", "amount", "stage", *extra_cols),
            rows=deals,
            now=now,
        )
        Campaign.objects.bulk_create(
            Campaign(
                name=f"{rng.choice(COMPANY_A).capitalize()} {rng.choice(PRODUCTS)} {2024 + i % 3} #{i}",
                channel="email",
                created_at=now,
            )
            for i in range(300)
        )
    t_deals = time.perf_counter() - t2
    print(
        f"\rbuilt {people:,} people in {t_people:.0f} s, {len(companies):,} accounts in {t_accounts:.0f} s, "
        f"{len(deals):,} deals and 300 campaigns in {t_deals:.0f} s (search index kept by the database)"
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
            # FTS5 merges its index segments as it goes; one optimize leaves one segment per table.
            from tandem.search.indexing import INDEXED

            for indexed in INDEXED:
                cursor.execute(f"INSERT INTO {indexed.fts} ({indexed.fts}) VALUES ('optimize')")


# ---- timing ----


def _times(fn: Any, runs: int) -> tuple[float, float]:
    fn()  # warm: page cache, query compilation
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]


def _backend_cpu() -> float:
    """CPU seconds the PostgreSQL server process of this connection has used (0 on SQLite: it runs in ours)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_ms(fn: Any, runs: int) -> float:
    """CPU time per call of this process and (PostgreSQL) its server process: unlike the wall clock, it does
    not grow when other jobs share the machine."""
    fn()
    t0, b0 = time.process_time(), _backend_cpu()
    for _ in range(runs):
        fn()
    return ((time.process_time() - t0) + (_backend_cpu() - b0)) * 1000 / runs


def _icontains(q: str) -> list[int]:
    from django.db.models import Q

    from tandem.crm.models import Person

    match = (
        Q(first_name__icontains=q)
        | Q(last_name__icontains=q)
        | Q(email__icontains=q)
        | Q(account__name__icontains=q)
        | Q(account__domain__icontains=q)
    )
    return list(Person.objects.filter(match).values_list("id", flat=True)[:5])


def _queries() -> list[tuple[str, str]]:
    from tandem.crm.models import Account, Person

    some = Person.objects.filter(account__isnull=False).select_related("account").order_by("id")[12345]
    local = some.email.split("@")[0]
    company_word = Account.objects.filter(name__contains=" ").order_by("id")[777].name.split()[0].lower()
    return [
        ("part of an e-mail", local[2:9]),
        ("a company (word)", company_word),
        ("a company (whole name)", some.account.name.lower()),
        ("a company's domain", some.account.domain),
        ("a free-mail domain (30 %)", "gmail.com"),
        ("a first-name prefix", "mar"),
        ("a full name", f"{some.first_name} {some.last_name}".lower()),
        ("a last-name substring", "owals"),
        ("2 letters", "sc"),
        ("1 letter", "k"),
        ("a miss", "qxzvw"),
    ]


def run_queries(db: str, runs: int) -> list[dict[str, Any]]:
    from django.db import connection
    from django.test import Client

    from tandem.crm.selectors import people_list
    from tandem.search.selectors import search
    from tandem.users.models import User

    admin = User.objects.filter(username="bench-admin").first() or User.objects.create_superuser(
        "bench-admin", password="bench-pass-1"
    )
    client = Client()
    client.force_login(admin)
    out = []
    load = os.getloadavg()[0]
    print(
        f"\n{db} ({connection.vendor}); p50 / p95 over {runs} runs, ms; load average {load:.1f} on {os.cpu_count()} cpus"
    )
    print(
        f"{'query':<28} {'q':<26} {'search':>15} {'cpu':>5} {'API':>15} {'icontains scan':>15} {'people list':>15}  hits"
    )
    for label, q in _queries():
        result = search(q=q, user=admin)
        hits = {g.kind: len(g.hits) for g in result.groups}
        s50, s95 = _times(lambda q=q: search(q=q, user=admin), runs)
        cpu = _cpu_ms(lambda q=q: search(q=q, user=admin), max(runs, 50))
        a50, a95 = _times(lambda q=q: client.get("/api/search", {"q": q}), runs)
        # The baselines: a plain scan (what a substring search without an index costs) and the people list's
        # own search today (a name or e-mail prefix: it finds nothing by company, domain or a middle part).
        i50, i95 = _times(lambda q=q: _icontains(q), max(3, runs // 5))
        p50, p95 = _times(lambda q=q: people_list(q=q, limit=5), runs)
        listed = len(people_list(q=q, limit=5).items)
        print(
            f"{label:<28} {q[:26]:<26} {s50:6.1f} / {s95:6.1f} {cpu:5.1f} {a50:6.1f} / {a95:6.1f} {i50:6.0f} / {i95:6.0f} "
            f"{p50:6.1f} / {p95:6.1f}  {hits.get('person', 0)}p {hits.get('account', 0)}a {hits.get('deal', 0)}d "
            f"{hits.get('campaign', 0)}c (list: {listed})"
        )
        out.append(
            {
                "db": db,
                "query": label,
                "q": q,
                "search_p50": s50,
                "search_p95": s95,
                "search_cpu": cpu,
                "api_p50": a50,
                "api_p95": a95,
                "icontains_p50": i50,
                "icontains_p95": i95,
                "people_list_p50": p50,
                "hits": hits,
                "list_hits": listed,
            }
        )
    return out


# ---- what the index costs a bulk import ----


def _import_once(without: bool, database_url: str) -> None:
    """One run of bench_bundle_import.py (in this process), with or without the search indexes, printing
    also the CPU time of the first import here and in the database server."""
    import runpy

    import django

    sys.argv = ["bench_bundle_import.py", "--database-url", database_url]
    sys.path.insert(0, str(REPO / "src"))
    if without:
        import tandem.search.indexing as indexing

        indexing.install = lambda connection: None  # type: ignore[assignment]
    real_setup = django.setup

    def setup(*args: Any, **kwargs: Any) -> None:
        real_setup(*args, **kwargs)
        import tandem.capture.services as capture

        real_import, calls = capture.bundle_import, []

        def timed(**kw: Any) -> Any:
            calls.append(1)
            if len(calls) > 1:
                return real_import(**kw)
            t0, b0 = time.process_time(), _backend_cpu()
            out = real_import(**kw)
            print(f"first import cpu: {time.process_time() - t0:.2f} s + {_backend_cpu() - b0:.2f} s server")
            return out

        capture.bundle_import = timed

    django.setup = setup  # type: ignore[assignment]
    runpy.run_path(str(REPO / "bench" / "bench_bundle_import.py"), run_name="__main__")


def import_cost(dbs: list[str], rounds: int) -> int:
    """bench_bundle_import's first import with and without the search indexes, alternating, in subprocesses."""
    import psycopg

    for db in dbs:
        for r in range(rounds):
            for without in (True, False):
                url = ""
                if db == "postgres":
                    admin = PG_ADMIN_URL.replace("postgres://", "postgresql://")
                    with psycopg.connect(admin, autocommit=True) as c:
                        c.execute("DROP DATABASE IF EXISTS tandem_bench_import_cost")
                        c.execute("CREATE DATABASE tandem_bench_import_cost")
                    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/tandem_bench_import_cost"
                flag = ["--without-search"] if without else []
                proc = subprocess.run(
                    [sys.executable, __file__, "--import-once", *flag, "--database-url", url],
                    cwd=REPO,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                lines = [line for line in proc.stdout.splitlines() if line.startswith("first import")]
                what = "; ".join(lines) if lines else proc.stderr[-300:]
                print(f"{db:<9} round {r + 1} {'without' if without else 'with   '} search indexes: {what}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--rebuild", action="store_true", help="build the database again")
    parser.add_argument(
        "--import-cost", action="store_true", help="time bundle imports with and without the indexes"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--import-once", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--without-search", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.import_once:
        _import_once(args.without_search, args.database_url)
        return 0
    if args.import_cost:
        return import_cost(args.db, args.rounds)
    if len(args.db) > 1:
        # One database per process: Django reads its settings once.
        common = ["--people", str(args.people), "--runs", str(args.runs), "--seed", str(args.seed)]
        common += ["--rebuild"] if args.rebuild else []
        codes = []
        for db in args.db:
            out = ["--json", str(args.json.with_suffix(f".{db}.json"))] if args.json else []
            codes.append(
                subprocess.run([sys.executable, __file__, "--db", db, *common, *out], check=False).returncode
            )
        return max(codes)
    db = args.db[0]
    _setup(db, args.people, args.rebuild)
    from tandem.crm.models import Person

    if Person.objects.count() != args.people:
        if Person.objects.exists():
            print("the kept database holds another number of people: run with --rebuild", file=sys.stderr)
            return 2
        _build(args.people, args.seed)
    rows = run_queries(db, args.runs)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    worst = max(max(r["search_p95"], r["api_p95"]) for r in rows)
    print(f"slowest p95: {worst:.1f} ms (target: under {TARGET_MS:.0f} ms)")
    return 0 if worst < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
