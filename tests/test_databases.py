"""The suite runs on SQLite and, in CI, again on PostgreSQL: these tests say which run this is."""

from __future__ import annotations

import os

import pytest
from django.db import connection


def test_connection_is_set_up_for_its_database(db):
    # given the database of this run
    with connection.cursor() as cur:
        # when / then
        if connection.vendor == "sqlite":
            # concurrent writers wait instead of failing; foreign keys are enforced (WAL itself is checked on a
            # file database in test_settings: the in-memory test database cannot use it)
            cur.execute("PRAGMA busy_timeout")
            assert cur.fetchone()[0] == 20000
            cur.execute("PRAGMA foreign_keys")
            assert cur.fetchone()[0] == 1
        else:
            assert connection.vendor == "postgresql"
            cur.execute("SHOW server_encoding")
            assert cur.fetchone()[0] == "UTF8"


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
