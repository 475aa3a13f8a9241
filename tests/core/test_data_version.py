"""The data version (tandem.core.dataversion): one cheap query that moves with every write a report reads.

These tests commit for real (transactional): the counter is bumped after the commit, which a test wrapped in one
transaction never reaches. Each case counts the bumps exactly: one per committed transaction that changed report
data through a service, the bulk writer or the event log; the MAX parts move for the rest.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from tandem.analytics.dashboard.services import goal_set
from tandem.campaigns.services import (
    campaign_cost_add,
    campaign_cost_delete,
    campaign_create,
    campaign_update,
    touchpoint_record,
)
from tandem.capture.csvimport.selectors import mapping_resolve
from tandem.capture.csvimport.services import csv_import
from tandem.capture.services import bundle_export_archive, bundle_import, bundle_import_archive
from tandem.core.dataversion import (
    data_version_bump,
    data_version_get,
    data_version_sources,
    data_version_sql,
)
from tandem.core.models import DataVersion
from tandem.crm.models import Person
from tandem.crm.pipelines.services import deal_update
from tandem.crm.services import (
    activity_log,
    deal_close,
    deal_create,
    deals_assign_owner_bulk,
    people_update_bulk,
    person_change_stage,
    person_create,
    person_merge,
    person_update,
)
from tandem.lifecycle.services import sla_policy_publish
from tandem.privacy.services import person_erase
from tandem.scoring.services import people_score_refresh
from tandem.users.models import Role
from tests.capture.factories import HUBSPOT_CSV, bundle_write_files
from tests.users.factories import UserFactory

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
# The tables that grow with the business (millions of rows): the version must never read them whole.
BIG_TABLES = (
    "crm_person", "crm_account", "crm_deal", "crm_stagechange", "crm_activity", "campaigns_touchpoint",
    "scoring_personscore",
)  # fmt: skip


def _bumps() -> int:
    return sum(DataVersion.objects.values_list("bumps", flat=True))


def _world() -> dict[str, Any]:
    boss = UserFactory(role=Role.ADMIN)
    campaign = campaign_create(name="Spring webinar", channel="webinar", by_user=boss)
    person = person_create(
        email="ada@acme.example", first_name="Ada", stage="lead", original_channel="webinar"
    )
    twin = person_create(email="ada.l@acme.example", first_name="Ada", stage="lead")
    deal = deal_create(amount=Decimal("1000"), person=person, by_user=boss)
    cost = campaign_cost_add(campaign=campaign, amount="250", spent_on=dt.date(2026, 3, 1), by_user=boss)
    return {"boss": boss, "campaign": campaign, "person": person, "twin": twin, "deal": deal, "cost": cost}


def _csv_people(w: dict[str, Any], tmp_path: Path) -> None:
    headers = HUBSPOT_CSV.splitlines()[0].split(",")
    csv_import(
        data=HUBSPOT_CSV.encode(), mapping=mapping_resolve(name="hubspot", kind="people", headers=headers)
    )


WRITES: dict[str, tuple[Callable[[dict[str, Any], Path], Any], int]] = {
    # name: (the write, the counter bumps it makes)
    "touchpoint recorded": (
        lambda w, _: touchpoint_record(
            person=w["person"], kind="page_view", channel="webinar", campaign=w["campaign"]
        ),
        0,  # no event, no bulk writer: the touchpoint's id is the newest MAX(id)
    ),
    "person created": (lambda w, _: person_create(email="new@beta.example", stage="lead"), 1),
    "person updated": (lambda w, _: person_update(person=w["person"], by_user=w["boss"], job_title="CTO"), 1),
    "stage changed": (lambda w, _: person_change_stage(person=w["twin"], to_stage="mql", reason="scored"), 1),
    "person erased": (
        lambda w, _: person_erase(person=w["twin"], reason="asked to be forgotten", by_user=w["boss"]),
        1,
    ),
    "people merged": (
        lambda w, _: person_merge(survivor=w["person"], duplicate=w["twin"], by_user=w["boss"]),
        1,
    ),
    "people updated in bulk with an old time": (
        lambda w, _: people_update_bulk(person_ids=[w["person"].pk], owner=w["boss"], at=T0),
        1,
    ),
    "deal created": (lambda w, _: deal_create(amount=Decimal("5"), person=w["twin"], by_user=w["boss"]), 1),
    "deal updated": (lambda w, _: deal_update(deal=w["deal"], amount=Decimal("1500"), by_user=w["boss"]), 1),
    "deal won": (lambda w, _: deal_close(deal=w["deal"], won=True, by_user=w["boss"]), 1),
    "deal lost": (
        lambda w, _: deal_close(deal=w["deal"], won=False, lost_reason="No budget", by_user=w["boss"]),
        1,
    ),
    "deal owners reassigned in bulk": (
        lambda w, _: deals_assign_owner_bulk(person_ids=[w["person"].pk], owner=w["boss"]),
        1,
    ),
    "campaign created": (lambda w, _: campaign_create(name="Autumn", channel="email", by_user=w["boss"]), 1),
    "campaign updated": (lambda w, _: campaign_update(campaign=w["campaign"], name="Spring webinar 2"), 1),
    "cost added": (
        lambda w, _: campaign_cost_add(campaign=w["campaign"], amount="10", spent_on=dt.date(2026, 3, 2)),
        1,
    ),
    "cost deleted": (lambda w, _: campaign_cost_delete(cost=w["cost"], by_user=w["boss"]), 1),
    "activity logged (SLA first touch)": (
        lambda w, _: activity_log(person=w["person"], kind="call", user=w["boss"], outcome="connected"),
        1,
    ),
    "SLA policy published": (
        lambda w, _: sla_policy_publish(spec={"first_touch_hours": 2}, reason="Faster", by_user=w["boss"]),
        1,
    ),
    "KPI goal set": (
        lambda w, _: goal_set(
            metric="mqls", period="month", period_start_on=dt.date(2026, 3, 1), target=40, actor=w["boss"]
        ),
        1,
    ),
    "scores refreshed": (lambda w, _: people_score_refresh(now=T0), 1),
    "bundle imported": (lambda w, tmp: bundle_import(directory=bundle_write_files(tmp / "bundle")), 1),
    "CSV imported": (_csv_people, 1),
}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", list(WRITES))
def test_the_version_moves_after_each_kind_of_write(name: str, tmp_path: Path) -> None:
    # given a small world, committed
    world = _world()
    write, bumps = WRITES[name]
    before, counted = data_version_get(), _bumps()
    # when the write commits
    write(world, tmp_path)
    # then the version is another, and the counter moved by exactly the bumps the write makes
    assert data_version_get() != before
    assert _bumps() - counted == bumps


@pytest.mark.django_db(transaction=True)
def test_a_backup_restored_into_an_empty_database_moves_the_version() -> None:
    # given a backup of a small world, and the database emptied
    _world()
    archive = bundle_export_archive()
    call_command("flush", interactive=False, verbosity=0)
    from tandem.crm.services import crm_defaults_ensure

    crm_defaults_ensure()
    before, counted = data_version_get(), _bumps()
    # when it is restored (one transaction)
    assert zipfile.ZipFile(io.BytesIO(archive)).namelist()
    bundle_import_archive(archive=io.BytesIO(archive))
    # then
    assert Person.objects.count() == 2
    assert data_version_get() != before
    assert _bumps() - counted == 1


@pytest.mark.django_db(transaction=True)
def test_the_counter_moves_only_after_the_commit_and_once_per_transaction() -> None:
    # given
    before = _bumps()
    # when a transaction asks three times, and another rolls back
    with transaction.atomic():
        data_version_bump()
        data_version_bump()
        data_version_bump()
        inside = _bumps()
    after_commit = _bumps()
    with pytest.raises(RuntimeError), transaction.atomic():
        data_version_bump()
        raise RuntimeError("rolled back")
    # then nothing moved before the commit, one bump after it, none for the rolled-back one
    assert (inside - before, after_commit - before, _bumps() - before) == (0, 1, 1)


@pytest.mark.django_db
def test_the_version_is_one_query_over_every_registered_source(django_assert_num_queries: Any) -> None:
    # given the registrations of crm, campaigns, scoring, lifecycle and analytics
    labels = [s.label for s in data_version_sources()]
    # when / then
    assert labels == [
        "crm.person", "crm.account", "crm.deal", "crm.stagechange", "crm.activity", "crm.dealstagechange",
        "campaigns.touchpoint", "campaigns.campaign", "campaigns.campaigncost",
        "scoring.personscore", "lifecycle.slapolicyversion", "analytics.goal",
    ]  # fmt: skip
    with django_assert_num_queries(1):
        version = data_version_get()
    # the counter and the eleven MAX columns (DealStageChange is counted by bumps only)
    assert version.count(":") == 11
    assert data_version_sql().count("MAX(") == 11


@pytest.mark.django_db
def test_the_version_query_reads_indexes_only_never_a_whole_table() -> None:
    # given the planner told to avoid sequential scans where any index serves (a small test table would be
    # scanned whole otherwise, as it is cheaper there)
    sql = data_version_sql()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {sql}")
            plan = [row[0] for row in cursor.fetchall()]
            # when / then: every big table is read through an index (at scale MAX is an Index Only Scan Backward
            # with LIMIT 1; on a test table of a few rows the planner may instead aggregate the whole, tiny
            # index, which is still no table scan); the small ones (campaigns, costs, policies, goals, the
            # counter) may be read whole
            full = [line for line in plan if "Seq Scan" in line and any(t in line for t in BIG_TABLES)]
            for table in BIG_TABLES:
                assert any(table in line and "Index Only Scan" in line for line in plan), "\n".join(plan)
        else:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
            plan = [str(row[-1]) for row in cursor.fetchall()]
            # SQLite answers MAX(indexed column) from the index's last entry ("SEARCH ... USING ... INDEX")
            full = [line for line in plan if line.startswith("SCAN") and any(t in line for t in BIG_TABLES)]
            for table in BIG_TABLES:
                assert any(line.startswith(f"SEARCH {table}") for line in plan), "\n".join(plan)
    assert full == [], "\n".join(plan)
