"""CSV mappings without the database: header matching, presets, value maps, empty markers, cell errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.capture.csvimport.mapping import (
    Mapping,
    RowError,
    RowReader,
    amount_read,
    auto_map,
    header_normalize,
    refused_csv,
    table_read,
)
from tandem.capture.csvimport.presets import preset_detect, preset_get
from tandem.core.errors import ValidationFailed

HUBSPOT_HEADERS = [
    "Record ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone Number",
    "Company Name",
    "Job Title",
    "Lifecycle Stage",
    "Original Source",
    "Create Date",
]
SALESFORCE_HEADERS = [
    "Lead ID",
    "First Name",
    "Last Name",
    "Email",
    "Phone",
    "Company",
    "Title",
    "Lead Source",
    "Created Date",
]


def test_header_normalize_ignores_case_punctuation_and_spacing():
    # given / when / then
    assert header_normalize(" Lead_Source ") == "lead source"
    assert header_normalize("Country/Region") == "country region"
    assert header_normalize("E-Mail") == "e mail"


def test_auto_map_hubspot_headers_by_similarity():
    # given / when
    columns = auto_map(headers=HUBSPOT_HEADERS, kind="people")
    # then
    assert columns == {
        "Record ID": "external_id",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone Number": "phone",
        "Company Name": "company",
        "Job Title": "job_title",
        "Lifecycle Stage": "custom:lifecycle_stage",
        "Original Source": "original_channel",
        "Create Date": "created_at",
    }


def test_auto_map_salesforce_headers_by_similarity():
    # given / when
    columns = auto_map(headers=SALESFORCE_HEADERS, kind="people")
    # then
    assert columns == {
        "Lead ID": "external_id",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Email": "email",
        "Phone": "phone",
        "Company": "company",
        "Title": "job_title",
        "Lead Source": "original_channel",
        "Created Date": "created_at",
    }


def test_auto_map_catches_near_spellings_and_keeps_the_rest_as_custom_fields():
    # given: a typo ('Emial'), an underscore spelling and an unknown column
    headers = ["Emial", "first_name", "Favourite colour", "Email Adress"]
    # when
    columns = auto_map(headers=headers, kind="people")
    # then: the first header to claim a field keeps it
    assert columns == {
        "Emial": "email",
        "first_name": "first_name",
        "Favourite colour": "custom:favourite_colour",
        "Email Adress": "custom:email_adress",
    }


def test_auto_map_refuses_an_unknown_kind():
    # given / when
    with pytest.raises(ValidationFailed) as refused:
        auto_map(headers=["Email"], kind="companies")
    # then
    assert (refused.value.field, refused.value.value) == ("kind", "companies")


def test_presets_are_detected_by_header_signature():
    # given
    x_education = ["Prospect ID", "Lead Number", "Lead Origin", "Lead Source", "Converted", "City"]
    olist_mql = ["mql_id", "first_contact_date", "landing_page_id", "origin"]
    olist_deals = ["mql_id", "seller_id", "sdr_id", "sr_id", "won_date", "business_segment"]
    # when
    found = {
        "x": preset_detect(headers=x_education),
        "mql": preset_detect(headers=olist_mql),
        "deals": preset_detect(headers=olist_deals),
        "hubspot": preset_detect(headers=HUBSPOT_HEADERS),
        "salesforce": preset_detect(headers=SALESFORCE_HEADERS),
        "deals-as-people": preset_detect(headers=olist_deals, kind="people"),
    }
    # then
    names = {k: (m.name if m else None) for k, m in found.items()}
    assert names == {
        "x": "x-education",
        "mql": "olist-mql",
        "deals": "olist-deals",
        "hubspot": "hubspot",
        "salesforce": "salesforce",
        "deals-as-people": None,
    }
    # the preset keeps only the columns this file has
    x = found["x"]
    assert x is not None
    assert x.columns == {
        "Prospect ID": "external_id",
        "Lead Number": "custom:lead_number",
        "Lead Origin": "touchpoint_kind",
        "Lead Source": "original_channel",
        "Converted": "converted",
        "City": "custom:city",
    }


def _x_education_reader() -> RowReader:
    preset = preset_get("x-education")
    assert preset is not None
    headers = ["Prospect ID", "Lead Origin", "Lead Source", "City", "Specialization"]
    preset.columns = {h: t for h, t in preset.columns.items() if h in headers}
    return RowReader(mapping=preset, headers=headers)


def test_value_maps_translate_case_insensitively_and_keep_the_source_words():
    # given
    reader = _x_education_reader()
    # when
    row = reader.read(2, ["p-1", "Landing Page Submission", "google", "Mumbai", "Select"])
    # then: 'google' (lower case in the file) is Google; 'Select' is no value
    assert row.values == {
        "external_id": "p-1",
        "touchpoint_kind": "form_submit",
        "original_channel": "paid_search",
    }
    assert row.custom == {"lead_origin": "Landing Page Submission", "lead_source": "google", "city": "Mumbai"}


def test_unknown_values_become_other_and_are_kept_verbatim():
    # given
    reader = _x_education_reader()
    # when
    row = reader.read(7, ["p-2", "Carrier Pigeon", "Skywriting", "select", ""])
    # then
    assert row.values == {"external_id": "p-2", "touchpoint_kind": "other", "original_channel": "other"}
    assert row.custom == {"lead_origin": "Carrier Pigeon", "lead_source": "Skywriting"}


def test_a_vocabulary_value_is_taken_as_it_is():
    # given
    mapping = Mapping(name="m", kind="people", columns={"Email": "email", "Channel": "original_channel"})
    reader = RowReader(mapping=mapping, headers=["Email", "Channel"])
    # when
    row = reader.read(2, ["a@b.example", "Paid Search"])
    # then: 'Paid Search' is the vocabulary's paid_search written another way: nothing kept aside
    assert (row.values["original_channel"], row.custom) == ("paid_search", {})


def test_a_bad_cell_names_row_column_and_value():
    # given
    mapping = Mapping(
        name="m", kind="people", columns={"E-mail": "email", "Signed up": "created_at"}, options={}
    )
    reader = RowReader(mapping=mapping, headers=["E-mail", "Signed up"])
    # when
    with pytest.raises(RowError) as bad_email:
        reader.read(4, ["not-an-email", "2025-01-01"])
    with pytest.raises(RowError) as bad_date:
        reader.read(5, ["a@b.example", "31/31/2025"])
    # then
    assert (bad_email.value.line, bad_email.value.column, bad_email.value.value) == (
        4,
        "E-mail",
        "not-an-email",
    )
    assert bad_email.value.message == "row 4, column 'E-mail': 'not-an-email' is not a valid email address: an email address must have an @-sign"
    assert bad_date.value.message == "row 5, column 'Signed up': cannot read '31/31/2025' as a date-time"


def test_dates_in_iso_us_and_european_forms():
    # given
    mapping = Mapping(name="m", kind="people", columns={"Email": "email", "Created": "created_at"})
    reader = RowReader(mapping=mapping, headers=["Email", "Created"])
    # when
    values = [
        reader.read(2, ["a@b.example", text]).values["created_at"]
        for text in (
            "2025-03-04T10:15:00Z",
            "2025-03-04 10:15",
            "03/04/2025 10:15 AM",
            "04.03.2025",
            "2025-03-04",
        )
    ]
    # then
    assert values == [
        dt.datetime(2025, 3, 4, 10, 15, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 4, 10, 15, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 4, 10, 15, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 4, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 4, tzinfo=dt.UTC),
    ]


def test_amounts_accept_thousands_separators_and_refuse_fractions_of_cents():
    # given / when / then
    assert amount_read("$ 1,234.50", line=2, column="Amount") == Decimal("1234.50")
    assert amount_read("0.0", line=2, column="Amount") == Decimal("0.00")
    with pytest.raises(RowError) as refused:
        amount_read("12.345", line=9, column="Amount")
    assert refused.value.message == "row 9, column 'Amount': '12.345' has more than two decimals"


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False, allow_infinity=False))
def test_amount_read_gives_back_any_two_decimal_amount(amount):
    # given
    text = f"{amount:.2f}"
    # when / then
    assert amount_read(text, line=2, column="Amount") == amount


def test_mapping_check_refuses_unknown_fields_and_missing_keys():
    # given
    headers = ["Name", "Email"]
    unknown = Mapping(name="m", kind="people", columns={"Name": "nickname", "Email": "email"})
    no_key = Mapping(name="m", kind="people", columns={"Name": "full_name"})
    twice = Mapping(name="m", kind="people", columns={"Name": "email", "Email": "email"})
    # when
    errors = []
    for mapping in (unknown, no_key, twice):
        with pytest.raises(ValidationFailed) as refused:
            RowReader(mapping=mapping, headers=headers)
        errors.append(refused.value.message)
    # then
    assert errors == [
        "column 'Name': unknown field 'nickname' for people",
        "the mapping names no column for email, external_id or phone: rows could not be matched to people",
        "field 'email' is fed by both 'Name' and 'Email'",
    ]


def test_table_read_skips_blank_lines_counts_physical_lines_and_reads_semicolons():
    # given: a quoted cell spanning two lines, then a blank line
    data = b'Email;Note\r\na@b.example;"two\nlines"\n\nc@d.example;x\n'
    # when
    table = table_read(data=data)
    # then
    assert table.headers == ["Email", "Note"]
    assert table.rows == [(2, ["a@b.example", "two\nlines"]), (5, ["c@d.example", "x"])]


def test_table_read_reads_a_file_that_is_not_utf8_in_its_code_page():
    # given a Latin-1 file (once refused as "not UTF-8")
    data = "Email\na@b.example\nzoë@c.example\n".encode("latin-1")
    # when
    table = table_read(data=data, name="leads.csv")
    # then: its bytes are the same in Windows-1252, which is what Excel writes
    assert table.rows == [(2, ["a@b.example"]), (3, ["zoë@c.example"])]
    assert table.detected == "Windows-1252, one column"


def test_refused_csv_has_the_original_cells_and_the_reasons():
    # given
    error = RowError("'x' is not a valid email address", line=3, column="Email", value="x")
    # when
    text = refused_csv(headers=["Email", "Name"], refused=[(["x", "Ann"], error)])
    # then
    assert text.splitlines() == [
        "Email,Name,error_field,error_value,error",
        "x,Ann,Email,x,\"row 3, column 'Email': 'x' is not a valid email address\"",
    ]


@given(
    st.lists(
        st.sampled_from(
            [
                *HUBSPOT_HEADERS,
                *SALESFORCE_HEADERS,
                "E-mail",
                "Emial",
                "Notes",
                "Lead Origin",
                "Score",
                "  ",
                "",
            ]
        ),
        max_size=12,
        unique=True,
    )
)
def test_auto_map_maps_every_header_and_no_field_twice(headers):
    # given / when
    columns = auto_map(headers=headers, kind="people")
    # then
    fields = [target for target in columns.values() if target and not target.startswith("custom:")]
    assert list(columns) == headers
    assert len(fields) == len(set(fields))
    assert all(columns[h] == "" for h in headers if not h.strip())
