"""Benchmark: the sustained capture rate of the JSON form endpoint under gunicorn sync workers on 127.0.0.1.

For each database (SQLite in WAL mode, and PostgreSQL when reachable) it migrates a fresh database, creates a
form and a campaign, starts gunicorn, and drives the endpoint with a bounded load generator: a fixed number of
connections, each sending its next submission as soon as the previous one is answered (closed loop), so the
server is never asked for more than it can take. Submissions are realistic: 20,000 possible addresses over
2,000 company domains and free-mail, so about half are new people and half return; every one carries UTM
tags of a known campaign. It reports requests/s, p50/p99 latency as the client saw it (connection included),
and checks the database afterwards: one journal row, one touchpoint per accepted submission.

The same load then hits a bare Django + django-ninja endpoint that only parses and inserts one row
(bench/bare_capture_app.py), and the ratio is printed. Targets: ≥ 1,000 submissions/s with p99 < 30 ms.

The drain (journal rows made into people, touchpoints, consent and stage changes) runs in `--drain-workers`
processes of their own (default: 1 on SQLite, whose writes take turns anyway, 2 on PostgreSQL), started with
the load and calling `submissions_process` in a loop, unpaced. It reports the accept rate, the processed rate
during the load, the backlog (rows still `received`) when the load stops, and how long the rest took; it fails
when the backlog grew (more left than the workers hold in flight) or the processed rate fell below the accept
rate. `--drain isolated` measures them apart instead: the load with no drain, then the drain alone, so each has
the whole machine. `--drain-workers 0` leaves the drain to the server's own paced background worker (as served).

Run: .venv/bin/python bench/bench_capture.py [--db sqlite postgres] [--seconds 15] [--connections 8]
     [--drain-workers N] [--drain concurrent|isolated]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PG_URL = "postgres://postgres@127.0.0.1:5432/tandem_bench_capture"
LOG = str(Path(tempfile.gettempdir()) / "bench_capture_server.log")
BOOT_SECONDS = 90.0  # at most; see wait_booted
TARGET_RATE = 1000.0
TARGET_P99_MS = 30.0
SETUP = """
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
django.setup()
from tandem.campaigns.models import Campaign
from tandem.capture.intake.services import form_create
Campaign.objects.create(name="Spring launch", channel="paid_social", utm_source="linkedin", utm_campaign="spring-launch")
form = form_create(name="Bench form", rate_limit_per_minute=1_000_000, fields=[
    {"name": "email", "type": "email", "required": True}, {"name": "first_name"}, {"name": "last_name"},
    {"name": "company"}, {"name": "consent_email", "type": "consent_email"}])
print(form.public_key)
"""
COUNT = """
import django, os, json
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
django.setup()
from django.db import connection
from tandem.campaigns.models import Touchpoint
from tandem.capture.models import Submission
from tandem.crm.models import Person
# One statement, so one snapshot: counted one by one, a batch the drain commits in between would make
# the journal and the touchpoints disagree.
tables = [m._meta.db_table for m in (Person, Touchpoint, Submission, Submission)]
with connection.cursor() as cursor:
    cursor.execute(
        "SELECT (SELECT COUNT(*) FROM %s), (SELECT COUNT(*) FROM %s), (SELECT COUNT(*) FROM %s), "
        "(SELECT COUNT(*) FROM %s WHERE status = 'processed')" % tuple(tables)
    )
    people, touchpoints, journal, processed = cursor.fetchone()
print(json.dumps({"people": people, "touchpoints": touchpoints, "journal": journal, "processed": processed}))
"""

# A drain worker: batches until told to stop (the stop file exists) and nothing waits; prints what it processed.
DRAIN = """
import django, json, os, sys, time
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
django.setup()
from tandem.capture.intake.processing import batch_size, submissions_process
stop_file, done, started = sys.argv[1], 0, time.perf_counter()
print(batch_size(), flush=True)
while True:
    part = submissions_process()
    moved = part.processed + part.rejected + part.failed
    done += moved
    if moved == 0 and part.raced == 0:
        if os.path.exists(stop_file):
            break
        time.sleep(0.05)
print(json.dumps({"processed": done, "seconds": time.perf_counter() - started}))
"""
WAITING = """
import django, os
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
django.setup()
from tandem.capture.models import Submission
print(Submission.objects.filter(status="received").count(), Submission.objects.count())
"""


def drain_start(count: int, env: dict[str, str], stop_file: Path) -> tuple[list[subprocess.Popen[str]], int]:
    """Start the drain workers; returns them and their batch size once each has imported Django."""
    procs = [
        subprocess.Popen([PYTHON, "-c", DRAIN, str(stop_file)], env=env, cwd=REPO, stdout=subprocess.PIPE, text=True)
        for _ in range(count)
    ]
    batch = 0
    for proc in procs:
        assert proc.stdout is not None
        batch = int(proc.stdout.readline())
    return procs, batch


def drain_finish(procs: list[subprocess.Popen[str]], stop_file: Path) -> int:
    stop_file.touch()
    processed = 0
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        processed += json.loads(out.strip().splitlines()[-1])["processed"]
    return processed


def waiting(env: dict[str, str]) -> tuple[int, int]:
    """Rows still waiting in the journal, and all rows."""
    left, total = run(WAITING, env).splitlines()[-1].split()
    return int(left), int(total)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", connect_timeout=3):
            return True
    except Exception:
        return False


def pg_recreate() -> None:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS tandem_bench_capture WITH (FORCE)")
        conn.execute("CREATE DATABASE tandem_bench_capture")


def run(code: str, env: dict[str, str]) -> str:
    done = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"setup step failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


def start_gunicorn(app: str, port: int, workers: int, env: dict[str, str], config: bool = False) -> subprocess.Popen[bytes]:
    # Tandem runs as `tandem serve` runs it: with its config, which starts the background worker.
    extra = ["--config", "python:tandem.core.gunicorn_conf"] if config else []
    proc = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", app, "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--worker-class", "sync", "--log-level", "warning", "--backlog", "2048", *extra],
        # Never a pipe nobody reads: a full pipe would block the server's logging, and the server with it.
        env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(LOG, "ab"),  # noqa: SIM115
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                # gunicorn listens before its workers have imported the app (3 s of CPU each, 5 workers and the
                # background worker on 2 cores): wait for them, or the measurement would include their boot.
                wait_booted(proc.pid)
                return proc
        except OSError:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited: {Path(LOG).read_text()[-3000:]}") from None
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("gunicorn did not start in 30 s")


def _tree_cpu_seconds(root: int) -> float:
    """CPU time used so far by a process and all its descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    return sum(times.get(pid, 0.0) for pid in tree)


def wait_booted(root: int) -> None:
    """Wait until the server's processes have gone quiet: every worker has imported the app and settled."""
    if not Path("/proc").is_dir():
        time.sleep(20)
        return
    deadline = time.time() + BOOT_SECONDS
    last = _tree_cpu_seconds(root)
    quiet = 0
    while time.time() < deadline and quiet < 3:
        time.sleep(1.0)
        now = _tree_cpu_seconds(root)
        quiet = quiet + 1 if now - last < 0.05 else 0
        last = now


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def bodies(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(50_000):
        n = rng.randrange(20_000)
        domain = "gmail.com" if n % 5 == 0 else f"co{n % 2000}.example"
        out.append(json.dumps({
            "email": f"lead{n}@{domain}", "first_name": f"F{n}", "last_name": f"L{n}", "company": f"Co {n % 2000}",
            "consent_email": "1" if n % 3 else "",
            "utm_source": "linkedin", "utm_medium": "paid_social", "utm_campaign": "spring-launch",
            "page_url": "https://www.example.com/spring?utm_campaign=spring-launch",
        }).encode())
    return out


async def load(port: int, path: str, payloads: list[bytes], connections: int, warmup: float, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = {"i": 0}
    start = time.perf_counter()
    measure_from = start + warmup
    deadline = measure_from + seconds

    async def one() -> None:
        while True:
            now = time.perf_counter()
            if now >= deadline:
                return
            body = payloads[counter["i"] % len(payloads)]
            counter["i"] += 1
            request = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode() + body
            t0 = time.perf_counter()
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            data = await reader.read()
            writer.close()
            t1 = time.perf_counter()
            status = int(data[9:12]) if len(data) >= 12 else 0
            if t0 >= measure_from:
                latencies.append(t1 - t0)
                statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(one() for _ in range(connections)))
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n,
        "rate": n / seconds,
        "p50_ms": latencies[n // 2] * 1000 if n else 0.0,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0,
        "max_ms": latencies[-1] * 1000 if n else 0.0,
        "ok": float(statuses.get(201, 0) + statuses.get(202, 0)),
        "statuses": statuses,  # type: ignore[dict-item]
        "sent_total": float(counter["i"]),
    }


WRK_SCRIPT = r"""
math.randomseed(7)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
init = function(args) path = args[1] end
request = function()
  local n = math.random(0, 19999)
  local domain = (n % 5 == 0) and "gmail.com" or ("co" .. (n % 2000) .. ".example")
  local consent = (n % 3 ~= 0) and "1" or ""
  local body = string.format('{"email":"lead%d@%s","first_name":"F%d","last_name":"L%d","company":"Co %d",'
    .. '"consent_email":"%s","utm_source":"linkedin","utm_medium":"paid_social","utm_campaign":"spring-launch",'
    .. '"page_url":"https://www.example.com/spring?utm_campaign=spring-launch"}', n, domain, n, n, n % 2000, consent)
  return wrk.format(nil, path, nil, body)
end
done = function(summary, latency, requests)
  io.write(string.format('RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
    .. '"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout))
end
"""


def load_wrk(port: int, path: str, connections: int, warmup: float, seconds: float) -> dict[str, float]:
    """Drive the endpoint with wrk (C, one thread): a closed loop of `connections` connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT)
        script = f.name
    try:
        url = f"http://127.0.0.1:{port}"
        base = ["wrk", "-t1", f"-c{connections}", "--timeout", "5s", "-s", script]
        subprocess.run([*base, f"-d{max(1, int(warmup))}s", url, "--", path], capture_output=True, check=True)
        done = subprocess.run([*base, f"-d{int(seconds)}s", url, "--", path], capture_output=True, text=True, check=True)
    finally:
        os.unlink(script)
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    r = json.loads(line[len("RESULT "):])
    n = r["requests"]
    errors = r["non2xx"] + r["connect"] + r["read"] + r["write"] + r["timeout"]
    return {
        "requests": n, "rate": n / (r["duration_us"] / 1e6), "p50_ms": r["p50_us"] / 1000, "p99_ms": r["p99_us"] / 1000,
        "max_ms": r["max_us"] / 1000, "ok": float(n - errors), "statuses": {"errors": errors},  # type: ignore[dict-item]
        "sent_total": float(n) * (1 + warmup / seconds) + 10_000,
    }


def drive(port: int, path: str, payloads: list[bytes], args: argparse.Namespace) -> dict[str, float]:
    if shutil.which("wrk") and not args.python_client:
        return load_wrk(port, path, args.connections, args.warmup, args.seconds)
    return asyncio.run(load(port, path, payloads, args.connections, args.warmup, args.seconds))


def bench_db(db: str, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-capture-{db}-"))
    url = f"sqlite:///{tmp}/tandem.sqlite3" if db == "sqlite" else PG_URL
    if db == "postgres":
        pg_recreate()
    env = {
        **os.environ,
        "TANDEM_DATABASE_URL": url,
        "TANDEM_VAR_DIR": str(tmp),
        "TANDEM_SECRET_KEY": "bench-only",
        "TANDEM_ALLOWED_HOSTS": "127.0.0.1,localhost",
        # Every post comes from 127.0.0.1: its address budget is set out of reach, but still counted (a real
        # site's posts each pay that count too, so the benchmark keeps measuring it).
        "TANDEM_CAPTURE_ADDRESS_RATE_LIMIT": "1000000000",
        "PYTHONPATH": str(REPO),
    }
    results: dict[str, dict[str, float]] = {}
    try:
        subprocess.run([PYTHON, "-m", "tandem.cli", "migrate", "--noinput", "-v", "0"], env=env, check=True)
        key = run(SETUP, env).splitlines()[-1]
        payloads = bodies(args.seed)
        port = free_port()
        drainers = 0 if args.no_drain else (args.drain_workers if args.drain_workers is not None else (1 if db == "sqlite" else 2))
        # Our own drain workers replace the server's paced one (which steps aside during a burst).
        worker = "1" if drainers == 0 and not args.no_drain else "0"
        proc = start_gunicorn("tandem.wsgi:application", port, args.workers, {**env, "TANDEM_SERVE_WORKER": worker}, config=True)
        stop_file = tmp / "drain.stop"
        procs: list[subprocess.Popen[str]] = []
        try:
            batch = 0
            if drainers and args.drain == "concurrent":
                procs, batch = drain_start(drainers, env, stop_file)
            load_started = time.perf_counter()
            results["tandem"] = drive(port, f"/api/capture/forms/{key}/submissions", payloads, args)
            # The load has stopped: how long until the drain has processed every row?
            ended = time.perf_counter()
            t = results["tandem"]
            if drainers:
                t["backlog"], journal = waiting(env)
                t["load_s"] = ended - load_started
                t["accept_rate"] = journal / t["load_s"]  # warm-up included, as the drain saw it
                if args.drain == "isolated":
                    stop(proc)  # the drain alone, with the whole machine
                    drain_from = time.perf_counter()
                    procs, batch = drain_start(drainers, env, stop_file)
                    started_at = time.perf_counter()
                    drain_finish(procs, stop_file)
                    t["processed_rate"] = journal / (time.perf_counter() - started_at)
                    t["drain_s"] = time.perf_counter() - drain_from
                else:
                    t["processed_rate"] = (journal - t["backlog"]) / t["load_s"]
                    drain_finish(procs, stop_file)
                    t["drain_s"] = time.perf_counter() - ended
                t["in_flight"] = float(drainers * batch)  # rows the workers may hold when the load stops
                procs = []
            counts = json.loads(run(COUNT, env).splitlines()[-1])
            while not args.no_drain and not drainers and counts["processed"] < counts["journal"]:
                if time.perf_counter() - ended > 120:
                    break
                time.sleep(0.5)
                counts = json.loads(run(COUNT, env).splitlines()[-1])
            if not drainers:
                t["drain_s"] = time.perf_counter() - ended
        finally:
            for p in procs:
                p.kill()
            stop(proc)
        sent = int(results["tandem"]["sent_total"])
        results["tandem"]["check"] = float(
            counts["journal"] == counts["touchpoints"] == counts["processed"] and counts["journal"] <= sent
        )
        results["tandem"]["counts"] = counts  # type: ignore[assignment]
        results["tandem"]["people"] = counts["people"]
        results["tandem"]["touchpoints"] = counts["touchpoints"]
        bare_env = {**env, "BARE_CREATE_TABLE": "1"}
        run("import bench.bare_capture_app", bare_env)
        port = free_port()
        proc = start_gunicorn("bench.bare_capture_app:application", port, args.workers, env)
        try:
            results["bare"] = drive(port, "/api/submit", payloads, args)
        finally:
            stop(proc)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def main() -> int:
    sys.path.insert(0, str(REPO / "src"))
    from tandem.core.management.commands.serve import default_workers

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (the bound)")
    parser.add_argument("--workers", type=int, default=default_workers(), help="gunicorn sync workers")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-drain", action="store_true", help="diagnosis: no background worker, journal only")
    parser.add_argument("--python-client", action="store_true", help="use the asyncio client even if wrk is installed")
    parser.add_argument("--drain-workers", type=int, default=None,
                        help="drain processes (default 1 on SQLite, 2 on PostgreSQL; 0: the server's paced worker)")
    parser.add_argument("--drain", choices=["concurrent", "isolated"], default="concurrent",
                        help="drain while the load runs, or after it with the machine to itself")
    args = parser.parse_args()
    failed = False
    client = "wrk" if shutil.which("wrk") and not args.python_client else "asyncio client"
    print(f"{os.cpu_count()} cores; load: {client}; gunicorn sync workers: {args.workers}; {args.connections} connections; "
          f"{args.seconds:.0f} s measured after {args.warmup:.0f} s warm-up; drain: {args.drain}; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'database':<10}{'endpoint':<9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}  statuses / check")
    for db in args.db:
        if db == "postgres" and not pg_reachable():
            print("postgres: skipped, no server on 127.0.0.1:5432")
            continue
        res = bench_db(db, args)
        for name in ("tandem", "bare"):
            r = res[name]
            extra = f"  {r['statuses']}"
            if name == "tandem":
                extra += (f"  people={int(r['people'])} touchpoints={int(r['touchpoints'])} "
                          f"all processed {r['drain_s']:.1f} s after the load stopped; journal-consistent={'yes' if r['check'] else 'NO'}")
                if not r["check"]:
                    extra += f"  counts: {r['counts']}"
            print(f"{db:<10}{name:<9}{r['rate']:>9.0f}{r['p50_ms']:>9.1f}{r['p99_ms']:>9.1f}{r['max_ms']:>9.1f}{extra}")
        ratio = res["tandem"]["rate"] / res["bare"]["rate"] if res["bare"]["rate"] else 0.0
        print(f"{db:<10}ratio    {ratio:>9.2f}  (Tandem's capture rate / the bare insert endpoint's)")
        t = res["tandem"]
        if "processed_rate" in t:
            grew = t["backlog"] > t["in_flight"] if args.drain == "concurrent" else False
            slow = t["processed_rate"] < t["accept_rate"]
            print(f"{db:<10}drain    accepted {t['accept_rate']:.0f}/s, processed {t['processed_rate']:.0f}/s "
                  f"({t['processed_rate'] / t['accept_rate']:.2f}x), backlog when the load stopped {int(t['backlog'])} "
                  f"rows, the rest done {t['drain_s']:.1f} s later")
            if grew or slow:
                failed = True
                print(f"{db}: DRAIN BEHIND (processed rate below the accept rate, or a backlog over {int(t['in_flight'])} rows)")
        if t["rate"] < TARGET_RATE or t["p99_ms"] >= TARGET_P99_MS or not t["check"] or t["ok"] != t["requests"]:
            failed = True
            print(f"{db}: TARGET MISSED (≥ {TARGET_RATE:.0f}/s, p99 < {TARGET_P99_MS:.0f} ms, every request 201, journal consistent)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
