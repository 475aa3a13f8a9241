"""Other Tandem processes in a test: the environment that points them at this test's database, and their start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.db import connection


def database_url() -> str:
    """A TANDEM_DATABASE_URL naming the database this test runs on (the test database pytest-django made)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = quote(str(s.get("USER") or ""), safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(str(s["PASSWORD"]), safe="")
    return f"postgres://{auth}@{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def node_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of another node: this test's database, its own var/ (no disk shared with this process)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TANDEM_", "AWS_"))}
    env.update(
        DJANGO_SETTINGS_MODULE="tandem.settings",
        TANDEM_VAR_DIR=str(var_dir),
        TANDEM_DATABASE_URL=database_url(),
        TANDEM_SECRET_KEY="two-nodes-test-secret-key-shared-by-every-node-0123456789",
    )
    env.update(extra)
    return env


def python_run(code: str, *, env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    """Run `code` in a fresh interpreter set up as Django (another node); its standard output."""
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout
