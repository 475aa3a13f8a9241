"""The search index follows every writer: services, crm's bulk services (the loaders' path), updates, deletes.

The index is kept by the database (triggers on SQLite, GIN indexes on PostgreSQL), so these tests write the
way capture and demo write, and then search.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from tandem.crm.models import Account
from tandem.crm.services import (
    accounts_create_bulk,
    accounts_update_bulk,
    people_insert_bulk,
    people_rows_update_bulk,
    person_create,
    person_merge,
    person_update,
)
from tandem.search import indexing
from tandem.search.selectors import search, search_plan
from tests.search.factories import world
from tests.users.factories import UserFactory

NOW = dt.datetime(2025, 6, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def admin(db):
    return UserFactory(role="admin")


def _titles(results, kind: str = "person") -> list[str]:
    return [h.title for g in results.groups if g.kind == kind for h in g.hits]


def test_every_index_and_trigger_is_in_place_after_all_migrations(db):
    # A later migration that makes Django rebuild crm_person, crm_account, crm_deal or campaigns_campaign on
    # SQLite drops their triggers: then add a search migration after it that runs indexing.install again.
    assert indexing.missing(connection) == []


def test_people_and_accounts_written_by_the_bulk_services_are_found(admin):
    # given: an account and two people written the way capture and demo load them
    account = Account(name="Quellwasser Analytics", domain="quellwasser.example", created_at=NOW)
    accounts_create_bulk(accounts=[account])
    columns = ("email", "email_normalized", "first_name", "last_name", "name_key", "account_id", "created_at")
    people_insert_bulk(
        columns=columns,
        rows=[
            (
                "ida.brandt@quellwasser.example",
                "ida.brandt@quellwasser.example",
                "Ida",
                "Brandt",
                "ida brandt",
                account.pk,
                NOW,
            ),
            ("ole.haas@web.example", "ole.haas@web.example", "Ole", "Haas", "ole haas", None, NOW),
        ],
        now=NOW,
    )
    # when
    by_company = search(q="quellwasser", user=admin)
    by_name = search(q="rand", user=admin)
    by_email = search(q="haas@web", user=admin)
    # then
    assert _titles(by_company) == ["Ida Brandt"]
    assert _titles(by_company, "account") == ["Quellwasser Analytics"]
    assert _titles(by_name) == ["Ida Brandt"]
    assert _titles(by_email) == ["Ole Haas"]


def test_an_update_moves_a_person_in_the_index(admin):
    # given
    w = world()
    # when: a service renames her, a bulk update changes her address
    person_update(person=w.anna, last_name="Kowalski")
    w.anna.email = w.anna.email_normalized = "anna.k@quellwasser.example"
    people_rows_update_bulk(people=[w.anna], fields=["email", "email_normalized"])
    # then: the old name and address find nothing, the new ones find her
    assert _titles(search(q="mitherson", user=admin)) == []
    assert _titles(search(q="smitty", user=admin)) == []
    assert _titles(search(q="kowal", user=admin)) == ["Anna Kowalski"]
    assert _titles(search(q="k@quellw", user=admin)) == ["Anna Kowalski"]


def test_an_account_renamed_in_bulk_is_found_by_its_new_name_with_its_people(admin):
    # given
    w = world()
    # when
    w.nordwind.name = "Ostwind Freight"
    accounts_update_bulk(accounts=[w.nordwind], fields=["name"])
    # then: the old name finds nothing (its domain still holds "nordwind")
    assert _titles(search(q="wind logistics", user=admin), "account") == []
    assert _titles(search(q="freight", user=admin), "account") == ["Ostwind Freight"]
    assert _titles(search(q="freight", user=admin)) == ["Jane Doe"]


def test_a_deleted_person_is_gone_from_the_index(admin):
    # given: a duplicate of John under another address
    w = world()
    duplicate = person_create(email="jsmith@work.example", first_name="Johnny", last_name="Smythe")
    assert _titles(search(q="smythe", user=admin)) == ["Johnny Smythe"]
    # when: the duplicate is merged into John (and deleted)
    person_merge(survivor=w.john, duplicate=duplicate)
    # then
    assert _titles(search(q="smythe", user=admin)) == []
    assert _titles(search(q="jsmith@work", user=admin)) == []


def test_the_search_statements_read_indexes_not_whole_tables(db):
    # given: the plans of the statements a search runs, one per rank (PostgreSQL is told to avoid sequential
    # scans, so a Seq Scan left in a plan is one no index can serve)
    full_scans, plans = [], []
    for sql, params in search_plan(q="nordwind", kinds=["person", "account", "deal"]):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute(f"EXPLAIN {sql}", params)
                plan = [row[0] for row in cursor.fetchall()]
                full_scans += [line for line in plan if "Seq Scan" in line]
            else:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
                plan = [str(row[-1]) for row in cursor.fetchall()]
                full_scans += [
                    line for line in plan if line.startswith("SCAN crm_") and "VIRTUAL" not in line
                ]
        plans += plan
    # then
    assert len(plans) > 0
    assert full_scans == [], "\n".join(plans)
