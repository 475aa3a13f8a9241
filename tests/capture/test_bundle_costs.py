"""Campaign cost entries in the bundle: campaign_costs.csv, the campaigns' cost column, round trips and refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tandem.campaigns.models import Campaign, CampaignCost
from tandem.campaigns.services import campaign_cost_add
from tandem.capture.bundle import BundleError
from tandem.capture.services import COST_FROM_TOTAL, bundle_export, bundle_import
from tests.campaigns.factories import CampaignFactory
from tests.capture.factories import bundle_read_files, bundle_write_files, database_snapshot
from tests.capture.test_roundtrip import _wipe
from tests.users.factories import UserFactory

D = dt.date
CAMPAIGNS = (
    "campaign_id,name,channel,started_on,ended_on,cost\n"
    "C-1,Spring webinar,webinar,2025-03-01,2025-03-31,{c1}\n"
    "C-2,Search ads,paid_search,2025-01-01,2025-02-15,{c2}\n"
)
COSTS = (
    "campaign_id,spent_on,spent_until,amount,note\n"
    "C-1,2025-02-20,,500.00,Booth deposit\n"
    "C-1,2025-03-01,2025-03-31,700.00,Platform\n"
)


def _write(tmp_path, *, c1: str = "1200.00", c2: str = "350.50", costs: str | None = COSTS):  # type: ignore[no-untyped-def]
    return bundle_write_files(
        tmp_path, campaigns=CAMPAIGNS.format(c1=c1, c2=c2), campaign_costs=costs, touchpoints=None, deals=None,
        questions=None, activities=None,
    )


def _entries() -> list[tuple[str, D, D | None, Decimal, str]]:
    return list(
        CampaignCost.objects.order_by("campaign__external_id", "spent_on", "id").values_list(
            "campaign__external_id", "spent_on", "spent_until", "amount", "note"
        )
    )


def test_entries_are_imported_and_a_cost_without_entries_becomes_one_entry_over_the_campaigns_days(db, tmp_path):
    # given C-1 with two entries making its 1,200, and C-2 with a cost of 350.50 but no entries (an older bundle)
    _write(tmp_path)
    admin = UserFactory(role="admin")
    # when
    result = bundle_import(directory=tmp_path, by_user=admin)
    # then C-1's entries are stored as given, C-2's cost is one entry spread over its days; totals match
    assert _entries() == [
        ("C-1", D(2025, 2, 20), None, Decimal("500.00"), "Booth deposit"),
        ("C-1", D(2025, 3, 1), D(2025, 3, 31), Decimal("700.00"), "Platform"),
        ("C-2", D(2025, 1, 1), D(2025, 2, 15), Decimal("350.50"), COST_FROM_TOTAL),
    ]
    assert dict(Campaign.objects.values_list("external_id", "actual_cost")) == {"C-1": Decimal("1200.00"), "C-2": Decimal("350.50")}
    assert set(CampaignCost.objects.values_list("entered_by", flat=True)) == {admin.pk}
    files = result.as_dict()["files"]
    assert (files["campaign_costs.csv"], files["campaigns.csv"]["created"]) == ({"created": 3, "updated": 0, "unchanged": 0}, 2)


def test_importing_the_same_costs_again_changes_nothing(db, tmp_path):
    # given the bundle imported once
    _write(tmp_path)
    bundle_import(directory=tmp_path)
    before = database_snapshot()
    # when
    again = bundle_import(directory=tmp_path)
    # then
    assert (again.changed, again.files["campaign_costs.csv"].unchanged) == (False, 2)
    assert database_snapshot() == before


def test_a_higher_cost_adds_the_difference_and_a_row_held_twice_is_added_once(db, tmp_path):
    # given the bundle imported once
    _write(tmp_path)
    bundle_import(directory=tmp_path)
    # when C-2 now costs 400.50, and C-1's deposit row is in the file twice (stored once) with C-1 at 1,700
    _write(tmp_path, c1="1700.00", c2="400.50", costs=COSTS + "C-1,2025-02-20,,500.00,Booth deposit\n")
    result = bundle_import(directory=tmp_path)
    # then C-2 gains one entry of 50.00 and C-1 the second deposit
    assert result.files["campaign_costs.csv"].created == 2
    assert dict(Campaign.objects.values_list("external_id", "actual_cost")) == {"C-1": Decimal("1700.00"), "C-2": Decimal("400.50")}
    assert _entries()[-1] == ("C-2", D(2025, 1, 1), D(2025, 2, 15), Decimal("50.00"), COST_FROM_TOTAL)


def test_entries_in_the_file_beyond_its_own_cost_cell_are_refused(db, tmp_path):
    # given C-1's cost cell says 1,200 but its entries in the file add up to 1,700
    _write(tmp_path, costs=COSTS + "C-1,2025-02-20,,500.00,Second deposit\n")
    # when / then
    with pytest.raises(BundleError) as exc:
        bundle_import(directory=tmp_path)
    assert (exc.value.line, exc.value.column, Campaign.objects.count()) == (2, "cost", 0)


def test_a_cost_below_the_entries_is_refused_naming_the_cell_and_nothing_changes(db, tmp_path):
    # given the bundle imported once (C-2 has an entry of 350.50)
    _write(tmp_path)
    bundle_import(directory=tmp_path)
    before = database_snapshot()
    # when C-2's cost is lowered
    _write(tmp_path, c2="100.00", costs=None)
    with pytest.raises(BundleError) as exc:
        bundle_import(directory=tmp_path)
    # then
    assert (exc.value.file, exc.value.line, exc.value.column, exc.value.value) == ("campaigns.csv", 3, "cost", "100.00")
    assert "below the campaign's cost entries (350.50)" in exc.value.message
    assert database_snapshot() == before


def test_an_empty_cost_cell_keeps_the_total_of_the_entries(db, tmp_path):
    # given C-2 with an empty cost and one entry in the file
    _write(tmp_path, c2="", costs=COSTS + "C-2,2025-01-05,,80.00,Clicks\n")
    # when
    bundle_import(directory=tmp_path)
    # then
    assert Campaign.objects.get(external_id="C-2").actual_cost == Decimal("80.00")


def test_entries_of_a_stored_campaign_not_in_campaigns_csv_raise_its_total(db, tmp_path):
    # given a stored campaign with one entry of 1,000
    campaign = CampaignFactory(external_id="OLD-1")
    costs = "campaign_id,spent_on,spent_until,amount,note\nOLD-1,2025-04-01,,250.00,Late invoice\n"
    bundle_write_files(tmp_path, campaigns=None, campaign_costs=costs, touchpoints=None, deals=None, questions=None, activities=None)
    # when
    bundle_import(directory=tmp_path)
    # then
    campaign.refresh_from_db()
    assert (campaign.actual_cost, campaign.costs.count()) == (Decimal("1250.00"), 2)


@pytest.mark.parametrize(
    ("costs", "line", "column", "words"),
    [
        ("campaign_id,spent_on,spent_until,amount,note\nC-9,2025-01-01,,5.00,\n", 2, "campaign_id", "campaign 'C-9' is neither"),
        ("campaign_id,spent_on,spent_until,amount,note\nC-1,2025-01-05,2025-01-01,5.00,\n", 2, "spent_until", "is before spent_on"),
        ("campaign_id,spent_on,spent_until,amount,note\nC-1,2025-01-05,,-5.00,\n", 2, "amount", "must not be negative"),
        ("campaign_id,spent_on,spent_until,amount,note\nC-1,,,5.00,\n", 2, "spent_on", "value is missing"),
        ("campaign_id,spent_on,spent_until,amount,note,invoice\nC-1,2025-01-05,,5.00,,7\n", 1, "invoice", "unknown column 'invoice'"),
    ],
)
def test_bad_cost_rows_are_refused_naming_file_line_and_column(db, tmp_path, costs, line, column, words):  # type: ignore[no-untyped-def]
    # given
    _write(tmp_path, costs=costs)
    before = database_snapshot()
    # when
    with pytest.raises(BundleError) as exc:
        bundle_import(directory=tmp_path)
    # then
    assert (exc.value.file, exc.value.line, exc.value.column) == ("campaign_costs.csv", line, column)
    assert words in exc.value.message
    assert database_snapshot() == before


def test_entries_made_in_tandem_survive_export_and_import_into_an_empty_database(db, tmp_path):
    # given a campaign made in the app with entries entered on its page
    campaign = CampaignFactory(external_id=None, name="Made here", costs=False)
    campaign_cost_add(campaign=campaign, amount="99.99", spent_on=D(2025, 5, 1), note='Print, "glossy"')
    campaign_cost_add(campaign=campaign, amount="0.01", spent_on=D(2025, 5, 2), spent_until=D(2025, 5, 9))
    bundle_export(directory=tmp_path / "first")
    before = _entries()
    _wipe()
    # when
    bundle_import(directory=tmp_path / "first")
    bundle_export(directory=tmp_path / "second")
    # then the files are the same bytes and the entries the same values
    first, second = bundle_read_files(tmp_path / "first"), bundle_read_files(tmp_path / "second")
    assert first == second
    assert first["campaign_costs.csv"].decode() == (
        "campaign_id,spent_on,spent_until,amount,note\n"
        f'tandem-{campaign.pk},2025-05-01,,99.99,"Print, ""glossy"""\n'
        f"tandem-{campaign.pk},2025-05-02,2025-05-09,0.01,\n"
    )
    assert [row[1:] for row in _entries()] == [row[1:] for row in before]
    assert Campaign.objects.get().actual_cost == Decimal("100.00")
