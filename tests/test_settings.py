"""Settings come from the environment: checked in a fresh interpreter so nothing leaks into this one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROBE = (
    "import django, json; django.setup(); from django.conf import settings; from django.db import connection;"
    "c = connection.cursor(); c.execute('PRAGMA journal_mode'); mode = c.fetchone()[0];"
    "c.execute('PRAGMA busy_timeout'); busy = c.fetchone()[0];"
    "print(json.dumps({'key': settings.SECRET_KEY, 'mode': mode, 'busy': busy, 'debug': settings.DEBUG,"
    " 'hosts': settings.ALLOWED_HOSTS, 'huey': settings.HUEY['huey_class'],"
    " 'cache': settings.CACHES['default']['BACKEND'], 'cache_at': settings.CACHES['default'].get('LOCATION')}))"
)


def _probe(tmp_path: Path, **env: str) -> dict:
    import json

    full = {k: v for k, v in os.environ.items() if not k.startswith("TANDEM_")}
    full.update({"DJANGO_SETTINGS_MODULE": "tandem.settings", "TANDEM_VAR_DIR": str(tmp_path / "var")}, **env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=full, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_defaults_generate_a_secret_key_once_and_use_sqlite_wal(tmp_path):
    # given a fresh installation with no settings
    # when it starts twice
    first = _probe(tmp_path)
    second = _probe(tmp_path)
    # then the generated key is kept in var/ and reused, and SQLite is in WAL mode with a busy timeout
    key_file = tmp_path / "var" / "secret_key"
    assert first["key"] == second["key"] == key_file.read_text().strip()
    assert len(first["key"]) >= 50
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "var" / "tandem.sqlite3").exists()
    assert first["mode"] == "wal"
    assert first["busy"] == 20000
    assert first["debug"] is False
    assert first["hosts"] == ["127.0.0.1", "localhost"]
    assert first["huey"] == "huey.SqliteHuey"
    assert first["cache"] == "django.core.cache.backends.locmem.LocMemCache"


def test_environment_overrides(tmp_path):
    # given / when
    got = _probe(
        tmp_path,
        TANDEM_SECRET_KEY="k" * 60,
        TANDEM_DEBUG="true",
        TANDEM_ALLOWED_HOSTS="crm.example.com, 10.0.0.5",
        TANDEM_DATABASE_URL=f"sqlite:///{tmp_path}/other.sqlite3",
        TANDEM_REDIS_URL="redis://127.0.0.1:6379/3",
    )
    # then
    assert got["key"] == "k" * 60
    assert not (tmp_path / "var" / "secret_key").exists()
    assert (tmp_path / "other.sqlite3").exists()
    assert got["debug"] is True
    assert got["hosts"] == ["crm.example.com", "10.0.0.5"]
    assert got["huey"] == "huey.RedisHuey"
    # the report cache follows the queue's Redis when TANDEM_CACHE_URL is not set
    assert (got["cache"], got["cache_at"]) == ("django.core.cache.backends.redis.RedisCache", "redis://127.0.0.1:6379/3")


def test_cache_url_overrides_the_queue_redis(tmp_path):
    # given a Redis queue and the report cache asked to stay in memory, or to go to another Redis
    in_memory = _probe(tmp_path, TANDEM_REDIS_URL="redis://127.0.0.1:6379/3", TANDEM_CACHE_URL="locmem://")
    other = _probe(tmp_path, TANDEM_CACHE_URL="redis://cache.internal:6379/1")
    # then
    assert in_memory["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert (other["cache"], other["cache_at"]) == ("django.core.cache.backends.redis.RedisCache", "redis://cache.internal:6379/1")
    assert other["huey"] == "huey.SqliteHuey"


def test_env_example_documents_every_setting_the_code_reads():
    # given
    import re

    repo = Path(__file__).resolve().parent.parent
    read = set()
    for path in (repo / "src" / "tandem").rglob("*.py"):
        read |= set(re.findall(r"\"(TANDEM_[A-Z_]+)\"", path.read_text()))
    # when
    documented = set(re.findall(r"^#?\s*(TANDEM_[A-Z_]+)=", (repo / ".env.example").read_text(), re.M))
    # then
    assert read - documented == set()
