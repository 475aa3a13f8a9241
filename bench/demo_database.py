"""Shared by the benchmarks that measure pages and services on the demo company (run as scripts from bench/)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def demo_database_setup(*, keep: str | None, prefix: str) -> Path:
    """Point Django at a SQLite demo company and set it up: the one kept in `keep` if it holds one, else
    load `tandem demo --no-serve` there (or into a new temporary directory). Returns the directory."""
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix=prefix))
    root.mkdir(parents=True, exist_ok=True)
    db = root / "tandem.sqlite3"
    os.environ["TANDEM_VAR_DIR"] = str(root)
    os.environ["TANDEM_DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    if not db.exists():
        started = time.perf_counter()
        tandem = Path(sys.executable).with_name("tandem")
        subprocess.run([str(tandem), "demo", "--no-serve"], check=True, stdout=subprocess.DEVNULL, env=os.environ.copy())
        print(f"demo company loaded in {time.perf_counter() - started:.1f} s")
    import django

    django.setup()
    return root
