"""The bundle format without the database: values, stage derivation, account fields, zip archives."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.campaigns.models import Campaign, CampaignCost, Touchpoint
from tandem.capture.bundle import (
    DEFAULT_CAMPAIGN_KIND,
    MAX_LENGTH,
    BundleError,
    DealRow,
    PersonRow,
    bundle_accounts,
    bundle_unzip,
    bundle_zip,
    custom_merge,
    datetime_format,
    datetime_parse,
    export_id,
    lifecycle_moves,
    local_pk,
    size_band_normalize,
    slug_normalize,
)
from tandem.crm.models import Account, Activity, ActivityType, Deal, LostReason, Person, SizeBand
from tandem.users.models import User
from tests.capture.factories import SAMPLE, bundle_write_files

UTC = dt.UTC
T0 = dt.datetime(2025, 3, 4, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["2025-03-04T10:15:00Z", "2025-03-04 10:15:00", "2025-03-04T11:15:00+01:00", "2025-03-04T05:15:00-05:00"],
)
def test_date_times_written_several_ways_are_one_utc_moment(text):
    # given / when / then
    assert datetime_parse(text) == T0


def test_a_bare_date_is_midnight_utc_and_the_canonical_form_has_a_z():
    # given / when
    midnight = datetime_parse("2025-03-04")
    # then
    assert midnight == dt.datetime(2025, 3, 4, tzinfo=UTC)
    assert datetime_format(midnight) == "2025-03-04T00:00:00Z"
    assert datetime_format(T0.replace(microsecond=500000)) == "2025-03-04T10:15:00.500000Z"


@given(
    st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(2200, 1, 1), timezones=st.just(UTC))
)
def test_the_canonical_form_reads_back_as_the_same_moment(moment):
    # given / when
    text = datetime_format(moment)
    # then
    assert datetime_parse(text) == moment
    assert datetime_format(datetime_parse(text)) == text


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Paid Search", "paid_search"),
        ("paid-search", "paid_search"),
        (" EMAIL ", "email"),
        ("a - b__c", "a_b_c"),
    ],
)
def test_channels_become_lower_case_slugs(text, slug):
    # given / when / then
    assert slug_normalize(text) == slug


@pytest.mark.parametrize(
    ("text", "band"),
    [("1,001–5,000", "1001-5000"), ("5,001+", "5001+"), ("11 - 50", "11-50"), ("about 40", "about 40")],
)
def test_company_sizes_written_as_labels_become_bands_and_others_stay(text, band):
    # given / when / then
    assert size_band_normalize(text=text, bands=SizeBand.values) == band


def _deal(stage: str, created: str, closed: str | None = None) -> DealRow:
    return DealRow(
        "d",
        "a@b.example",
        "a@b.example",
        Decimal(1),
        stage,
        datetime_parse(created),
        datetime_parse(closed) if closed else None,
        "",
    )


def test_stages_come_from_creation_the_first_deal_and_the_first_win():
    # given
    created = datetime_parse("2025-01-01")
    deals = [
        _deal("won", "2025-03-01", "2025-05-01"),
        _deal("lost", "2025-02-01", "2025-02-10"),
        _deal("won", "2025-03-05", "2025-04-01"),
    ]
    # when
    moves = lifecycle_moves(created_at=created, deals=deals, reached=None)
    # then
    assert [(m.to_stage, m.at) for m in moves] == [
        ("lead", created),
        ("opportunity", datetime_parse("2025-02-01")),
        ("customer", datetime_parse("2025-04-01")),
    ]
    assert [m.to_stage for m in lifecycle_moves(created_at=created, deals=deals, reached=5)] == ["customer"]
    assert lifecycle_moves(created_at=created, deals=[], reached=1) == []


def _person(email: str, company: str, industry: str = "", size: str = "") -> PersonRow:
    return PersonRow(email, email, "", "", company, industry, size, "", "", T0)


def test_an_account_takes_each_fields_first_non_empty_value():
    # given
    people = [
        _person("a@acme.example", "", "software"),
        _person("b@acme.example", "Acme", "", "11-50"),
        _person("c@acme.example", "ACME Corp", "retail", "51-200"),
        _person("d@gmail.com", "Solo"),
        _person("e@gmail.com", ""),
    ]
    # when
    accounts = bundle_accounts(people=people)
    # then
    acme = accounts[("domain", "acme.example")]
    assert (acme.name, acme.domain, acme.industry, acme.size_band) == (
        "Acme",
        "acme.example",
        "software",
        "11-50",
    )
    assert accounts[("name", "Solo")].domain is None
    assert len(accounts) == 2


def test_custom_columns_set_remove_or_keep_keys():
    # given
    current = {"a": "1", "b": 2, "other": "x"}
    # when
    merged = custom_merge(current=current, columns=["a", "b", "c"], given={"a": "", "b": "2", "c": "new"})
    # then
    assert merged == {"b": 2, "other": "x", "c": "new"}


def test_rows_without_an_external_id_are_exported_under_their_pk():
    # given / when / then
    assert export_id(external_id=None, pk=7) == "tandem-7"
    assert export_id(external_id="D-1", pk=7) == "D-1"
    assert (local_pk("tandem-7"), local_pk("tandem-x"), local_pk("D-1")) == (7, None, None)


def test_max_lengths_match_the_models():
    # given the columns the bundle checks and the fields they fill
    fields = {
        ("campaigns.csv", "campaign_id"): (Campaign, "external_id"),
        ("campaigns.csv", "name"): (Campaign, "name"),
        ("campaigns.csv", "channel"): (Campaign, "channel"),
        ("campaigns.csv", "offer"): (Campaign, "offer"),
        ("campaign_costs.csv", "campaign_id"): (Campaign, "external_id"),
        ("campaign_costs.csv", "note"): (CampaignCost, "note"),
        ("people.csv", "email"): (Person, "email"),
        ("people.csv", "first_name"): (Person, "first_name"),
        ("people.csv", "last_name"): (Person, "last_name"),
        ("people.csv", "company"): (Account, "name"),
        ("people.csv", "industry"): (Account, "industry"),
        ("people.csv", "company_size"): (Account, "size_band"),
        ("people.csv", "country"): (Account, "country"),
        ("people.csv", "job_title"): (Person, "job_title"),
        ("touchpoints.csv", "channel"): (Touchpoint, "channel"),
        ("touchpoints.csv", "kind"): (Touchpoint, "kind"),
        ("deals.csv", "deal_id"): (Deal, "external_id"),
        ("deals.csv", "lost_reason"): (LostReason, "name"),
        ("activities.csv", "activity_id"): (Activity, "external_id"),
        ("activities.csv", "kind"): (ActivityType, "key"),
        ("activities.csv", "subject"): (Activity, "subject"),
        ("activities.csv", "deal_id"): (Deal, "external_id"),
        ("activities.csv", "user"): (User, "username"),
    }
    # when
    checked = {
        (file, column): limit for file, limits in MAX_LENGTH.items() for column, limit in limits.items()
    }
    # then
    assert checked == {key: model._meta.get_field(name).max_length for key, (model, name) in fields.items()}


def test_an_empty_kind_cell_means_the_models_default_kind():
    # given / when / then
    assert Campaign._meta.get_field("kind").default == DEFAULT_CAMPAIGN_KIND


def test_zipping_the_same_bundle_twice_gives_the_same_bytes(tmp_path):
    # given
    bundle_write_files(tmp_path)
    # when
    first, second = bundle_zip(directory=tmp_path), bundle_zip(directory=tmp_path)
    # then
    assert first == second
    assert zipfile.ZipFile(io.BytesIO(first)).namelist() == list(SAMPLE)


def _zip(entries: dict[str, bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    buffer.seek(0)
    return buffer


def test_unzip_finds_the_files_in_a_folder_and_ignores_others(tmp_path):
    # given
    archive = _zip(
        {
            "export/people.csv": b"p",
            "export/deals.csv": b"d",
            "export/notes.txt": b"n",
            "__MACOSX/._people.csv": b"",
        }
    )
    # when
    names = bundle_unzip(archive=archive, directory=tmp_path)
    # then
    assert names == ["people.csv", "deals.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deals.csv", "people.csv"]


@pytest.mark.parametrize(
    ("archive", "problem"),
    [
        (io.BytesIO(b"not a zip"), "is not a zip archive"),
        (_zip({"a/people.csv": b"1", "b/people.csv": b"2"}), "the archive holds people.csv twice"),
        (_zip({"people.csv": b"x" * 2000}), "the archive unpacks to more than 1000 bytes"),
    ],
    ids=["not a zip", "twice", "too large"],
)
def test_unzip_refuses_what_is_not_one_bundle(tmp_path, archive, problem):
    # given / when
    with pytest.raises(BundleError) as refused:
        bundle_unzip(archive=archive, directory=tmp_path, max_bytes=1000)
    # then
    assert refused.value.problem == problem
