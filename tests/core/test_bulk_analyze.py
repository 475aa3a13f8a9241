"""Planner statistics after bulk loads: PostgreSQL's tables are analyzed once a large load commits."""

from __future__ import annotations

import pytest
from django.db import connection

from tandem.capture.services import bundle_import
from tandem.core.bulk import ANALYZE_MIN_ROWS
from tandem.crm.models import Person

HEADER = "email,first_name,last_name,company,industry,company_size,country,job_title,created_at,persona\n"


def _people_bundle(directory, count: int):  # type: ignore[no-untyped-def]
    rows = "".join(
        f"p{i}@firm{i % 50}.example,Pat,Number{i},Firm {i % 50},software,51-200,ES,Engineer,2025-03-02T09:00:00Z,\n"
        for i in range(count)
    )
    (directory / "people.csv").write_text(HEADER + rows, encoding="utf-8")
    return directory


def _times_analyzed() -> int:
    # analyze_count counts explicit ANALYZEs (autovacuum's are autoanalyze_count). Not n_mod_since_analyze: a
    # backend reports its inserted-row counts up to a second after the commit, possibly after the ANALYZE.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = %s", [Person._meta.db_table]
        )
        return int(cursor.fetchone()[0])


def _postgresql_only() -> None:
    if connection.vendor != "postgresql":
        pytest.skip(
            "ANALYZE after bulk loads is PostgreSQL's; on SQLite tables_analyze does nothing by design"
        )


@pytest.mark.django_db(transaction=True)
def test_a_large_bundle_import_analyzes_the_tables_it_loaded(tmp_path):
    _postgresql_only()
    # given a bundle of more people than the threshold
    _people_bundle(tmp_path, ANALYZE_MIN_ROWS + 200)
    analyzed_before = _times_analyzed()
    # when it is imported (one transaction, committed)
    result = bundle_import(directory=tmp_path)
    # then the people table was analyzed once, after the commit
    assert result.files["people.csv"].created == ANALYZE_MIN_ROWS + 200
    assert _times_analyzed() == analyzed_before + 1


@pytest.mark.django_db(transaction=True)
def test_a_small_import_leaves_statistics_to_autovacuum(tmp_path):
    _postgresql_only()
    # given a bundle of a few people
    _people_bundle(tmp_path, 20)
    analyzed_before = _times_analyzed()
    # when it is imported
    result = bundle_import(directory=tmp_path)
    # then no ANALYZE ran: the rows wait for autovacuum
    assert result.files["people.csv"].created == 20
    assert _times_analyzed() == analyzed_before


@pytest.mark.django_db(transaction=True)
def test_sqlite_gets_no_statistics_tables(tmp_path):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite side of the decision: no sqlite_stat1 after a load")
    # given a large bundle
    _people_bundle(tmp_path, ANALYZE_MIN_ROWS + 200)
    # when it is imported
    bundle_import(directory=tmp_path)
    # then SQLite keeps planning without statistics, as every benchmark measured it
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        assert cursor.fetchone()[0] == 0
