"""The suite runs on SQLite and, in CI, again on PostgreSQL: these tests say which run this is."""

from __future__ import annotations

import os

import pytest
from django.db import connection


def test_sqlite_runs_in_wal_mode_with_busy_timeout(db):
    # given the SQLite run (PostgreSQL has no such pragmas)
    if connection.vendor != "sqlite":
        pytest.skip("this run uses PostgreSQL")
    # when
    with connection.cursor() as cur:
        cur.execute("PRAGMA busy_timeout")
        timeout = cur.fetchone()[0]
        cur.execute("PRAGMA foreign_keys")
        fks = cur.fetchone()[0]
    # then (the in-memory test database cannot be in WAL mode; the file database is checked in test_settings)
    assert timeout == 20000
    assert fks == 1


def test_postgresql_run_happens(db):
    # given
    url = os.environ.get("TANDEM_TEST_DATABASE_URL", "")
    if not url:
        pytest.skip("TANDEM_TEST_DATABASE_URL is not set: the PostgreSQL run of the suite is skipped")
    # when / then: in the PostgreSQL run we are on it; in the SQLite run the server for the next run answers
    if connection.vendor == "postgresql":
        assert os.environ.get("TANDEM_DATABASE_URL") == url
    else:
        import psycopg

        with psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=5) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
