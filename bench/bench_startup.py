"""How long the `tandem` command takes to start: `tandem --help` and a command's `--help`, median of 10 runs.

Beside them, in the same run (so the machine's load is the same): a bare `python -c pass`, `import django`, and
`django.setup()` with Tandem's settings (the floor of any management command: every app's models and registries).
Target (issue 17): `tandem --help` and any command's `--help` under 0.4 s.

    .venv/bin/python bench/bench_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TANDEM = str(Path(PYTHON).with_name("tandem"))
TARGET = 0.4

CASES: list[tuple[str, list[str], bool]] = [
    ("python -c pass (baseline)", [PYTHON, "-c", "pass"], False),
    ('python -c "import django" (baseline)', [PYTHON, "-c", "import django"], False),
    ("django.setup() with Tandem's settings", [PYTHON, "-c", "import django; django.setup()"], False),
    ("tandem --help", [TANDEM, "--help"], True),
    ("tandem report --help", [TANDEM, "report", "--help"], True),
    ("tandem import --help", [TANDEM, "import", "--help"], True),
    ("tandem export --help", [TANDEM, "export", "--help"], True),
    ("tandem demo --help", [TANDEM, "demo", "--help"], True),
    ("tandem score --help", [TANDEM, "score", "--help"], True),
    ("tandem person --help", [TANDEM, "person", "--help"], True),
    ("tandem worker --help", [TANDEM, "worker", "--help"], True),
]


def _median_seconds(command: list[str], runs: int) -> tuple[float, float]:
    """Median wall-clock seconds and median CPU seconds (user + system) of the child over `runs` runs."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tandem.settings"}
    subprocess.run(
        command, check=True, capture_output=True, env=env, cwd=ROOT
    )  # warm the .pyc and disk caches
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env, cwd=ROOT)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}   ({os.cpu_count()} CPUs)")
    # Wall time is what a user waits; CPU time says how much of it is ours when other processes share the CPUs.
    print(f"{'command (median of ' + str(args.runs) + ')':<42} {'wall':>9} {'cpu':>9}  target (wall)")
    failed = False
    for label, command, targeted in CASES:
        seconds, cpu = _median_seconds(command, args.runs)
        verdict = ""
        if targeted:
            verdict = "ok" if seconds < TARGET else f"OVER {TARGET} s"
            failed = failed or seconds >= TARGET
        print(f"{label:<42} {seconds:>7.3f} s {cpu:>7.3f} s  {verdict}")
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
