"""A bad bundle is refused with its file, line, column and value, and the database stays exactly as it was."""

from __future__ import annotations

import pytest

from tandem.capture.bundle import BundleError
from tandem.capture.services import bundle_import
from tests.capture.factories import SAMPLE, bundle_write_files, database_snapshot, replace_line

LONG_NAME = "N" * 101
LONG_OFFER = "O" * 201
P, T, D, C, Q = (SAMPLE[f"{n}.csv"] for n in ("people", "touchpoints", "deals", "campaigns", "questions"))

# (what is wrong, files replaced, (file, line, column, value, message))
BAD_BUNDLES = [
    (
        "unparseable date-time",
        {
            "people": replace_line(
                P, 3, "bo@gmail.com,Bo,Berg,Berg Consulting,consulting,1-10,SE,Owner,2025-13-01,"
            )
        },
        ("people.csv", 3, "created_at", "2025-13-01", "cannot read '2025-13-01' as a date-time"),
    ),
    (
        "unparseable date",
        {"campaigns": replace_line(C, 3, "C-2,Search ads,paid_search,March 2025,,350.50,campaign,,,,")},
        ("campaigns.csv", 3, "started_on", "March 2025", "cannot read 'March 2025' as a date"),
    ),
    (
        "unknown deal stage",
        {"deals": replace_line(D, 3, "D-2,bo@gmail.com,800.00,pending,2025-04-03T10:00:00Z,,")},
        ("deals.csv", 3, "stage", "pending", "unknown stage 'pending' (expected open, won or lost)"),
    ),
    (
        "negative amount",
        {
            "deals": replace_line(
                D, 2, "D-1,ana@acme.example,-5.00,won,2025-04-01T10:00:00Z,2025-05-15T16:00:00Z,"
            )
        },
        ("deals.csv", 2, "amount", "-5.00", "must not be negative, got '-5.00'"),
    ),
    (
        "negative cost",
        {"campaigns": replace_line(C, 2, "C-1,Spring webinar,webinar,2025-03-01,2025-03-31,-1,event,,,,EMEA")},
        ("campaigns.csv", 2, "cost", "-1", "must not be negative, got '-1'"),
    ),
    (
        "unreadable amount",
        {"deals": replace_line(D, 4, "D-3,cy@acme.example,5k,open,2025-04-10T10:00:00Z,,")},
        ("deals.csv", 4, "amount", "5k", "cannot read '5k' as an amount"),
    ),
    (
        "amount with three decimals",
        {"deals": replace_line(D, 4, "D-3,cy@acme.example,5.125,open,2025-04-10T10:00:00Z,,")},
        ("deals.csv", 4, "amount", "5.125", "'5.125' has more than two decimals"),
    ),
    (
        "missing email in people.csv",
        {"people": replace_line(P, 4, ",Cy,Chen,Acme,software,51-200,ES,Engineer,2025-03-10T08:00:00Z,")},
        ("people.csv", 4, "email", "", "value is missing"),
    ),
    (
        "missing email in touchpoints.csv",
        {"touchpoints": replace_line(T, 3, ",2025-03-12T15:00:00Z,webinar,C-1,webinar")},
        ("touchpoints.csv", 3, "email", "", "value is missing"),
    ),
    (
        "invalid email",
        {
            "people": replace_line(
                P, 4, "cy-at-acme,Cy,Chen,Acme,software,51-200,ES,Engineer,2025-03-10T08:00:00Z,"
            )
        },
        ("people.csv", 4, "email", "cy-at-acme", "'cy-at-acme' is not a valid email address"),
    ),
    (
        "touchpoint of an unknown person",
        {"touchpoints": T + "zed@acme.example,2025-03-10T08:00:00Z,referral,,form_submit\n"},
        (
            "touchpoints.csv",
            7,
            "email",
            "zed@acme.example",
            "'zed@acme.example' is neither in people.csv nor in the database",
        ),
    ),
    (
        "deal of an unknown person",
        {
            "deals": replace_line(
                D, 3, "D-2,zed@gmail.com,800.00,lost,2025-04-03T10:00:00Z,2025-04-20T10:00:00Z,No budget"
            )
        },
        (
            "deals.csv",
            3,
            "email",
            "zed@gmail.com",
            "'zed@gmail.com' is neither in people.csv nor in the database",
        ),
    ),
    (
        "question of an unknown person",
        {"questions": Q + "zed@gmail.com,2025-04-11T09:30:00Z,Hello?,\n"},
        (
            "questions.csv",
            4,
            "email",
            "zed@gmail.com",
            "'zed@gmail.com' is neither in people.csv nor in the database",
        ),
    ),
    (
        "touchpoint of an unknown campaign",
        {"touchpoints": replace_line(T, 2, "ana@acme.example,2025-03-02T09:00:00Z,paid_search,C-9,ad_click")},
        (
            "touchpoints.csv",
            2,
            "campaign_id",
            "C-9",
            "campaign 'C-9' is neither in campaigns.csv nor in the database",
        ),
    ),
    (
        "duplicate deal_id",
        {"deals": replace_line(D, 4, "D-1,cy@acme.example,5000.50,open,2025-04-10T10:00:00Z,,")},
        ("deals.csv", 4, "deal_id", "D-1", "duplicate deal_id 'D-1' (also on line 2)"),
    ),
    (
        "duplicate campaign_id",
        {"campaigns": replace_line(C, 3, "C-1,Search ads,paid_search,2025-01-01,,350.50,campaign,,,,")},
        ("campaigns.csv", 3, "campaign_id", "C-1", "duplicate campaign_id 'C-1' (also on line 2)"),
    ),
    (
        "duplicate email, written another way",
        {
            "people": replace_line(
                P, 4, "ANA@acme.example ,Cy,Chen,Acme,software,51-200,ES,Engineer,2025-03-10T08:00:00Z,"
            )
        },
        ("people.csv", 4, "email", "ANA@acme.example", "duplicate email 'ana@acme.example' (also on line 2)"),
    ),
    (
        "campaign ending before it starts",
        {
            "campaigns": replace_line(
                C, 2, "C-1,Spring webinar,webinar,2025-03-01,2025-02-01,1200.00,event,,,,EMEA"
            )
        },
        ("campaigns.csv", 2, "ended_on", "2025-02-01", "ended_on 2025-02-01 is before started_on 2025-03-01"),
    ),
    (
        "unknown campaign kind",
        {"campaigns": replace_line(C, 3, "C-2,Search ads,paid_search,2025-01-01,,350.50,webinar,,,,")},
        (
            "campaigns.csv",
            3,
            "kind",
            "webinar",
            "unknown kind 'webinar' (expected campaign, promotion, event or launch)",
        ),
    ),
    (
        "unparseable offer end date",
        {
            "campaigns": replace_line(
                C, 3, "C-2,Search ads,paid_search,2025-01-01,,350.50,promotion,20% off,15/02/2025,,"
            )
        },
        ("campaigns.csv", 3, "offer_ends_on", "15/02/2025", "cannot read '15/02/2025' as a date"),
    ),
    (
        "offer too long for its column",
        {
            "campaigns": replace_line(
                C, 3, f"C-2,Search ads,paid_search,2025-01-01,,350.50,promotion,{LONG_OFFER},,,"
            )
        },
        ("campaigns.csv", 3, "offer", LONG_OFFER, "value is longer than 200 characters"),
    ),
    (
        "won deal without closed_at",
        {"deals": replace_line(D, 2, "D-1,ana@acme.example,12000.00,won,2025-04-01T10:00:00Z,,")},
        ("deals.csv", 2, "closed_at", "", "a won deal needs closed_at"),
    ),
    (
        "open deal with closed_at",
        {"deals": replace_line(D, 4, "D-3,cy@acme.example,5000.50,open,2025-04-10T10:00:00Z,2025-05-01,")},
        ("deals.csv", 4, "closed_at", "2025-05-01", "an open deal has no closed_at, got '2025-05-01'"),
    ),
    (
        "deal closed before it was created",
        {
            "deals": replace_line(
                D, 2, "D-1,ana@acme.example,12000.00,won,2025-04-01T10:00:00Z,2025-03-01T00:00:00Z,"
            )
        },
        (
            "deals.csv",
            2,
            "closed_at",
            "2025-03-01T00:00:00Z",
            "closed_at 2025-03-01T00:00:00Z is before created_at 2025-04-01T10:00:00Z",
        ),
    ),
    (
        "lost reason on a won deal",
        {
            "deals": replace_line(
                D, 2, "D-1,ana@acme.example,12000.00,won,2025-04-01T10:00:00Z,2025-05-15T16:00:00Z,Too pricey"
            )
        },
        ("deals.csv", 2, "lost_reason", "Too pricey", "only a lost deal has a lost_reason, this one is won"),
    ),
    (
        "value too long for its column",
        {
            "people": replace_line(
                P, 2, f"ana@acme.example,{LONG_NAME},Lopez,Acme,software,51-200,ES,CTO,2025-03-02T09:00:00Z,"
            )
        },
        ("people.csv", 2, "first_name", LONG_NAME, "value is longer than 100 characters"),
    ),
    (
        "a header without a standard column",
        {"people": P.replace(",job_title,", ",title,", 1)},
        ("people.csv", 1, "job_title", "", "the header has no job_title column"),
    ),
    (
        "a row with too few cells",
        {"touchpoints": replace_line(T, 4, "bo@gmail.com,2025-03-05T12:30:00Z,organic_search")},
        ("touchpoints.csv", 4, "", "3", "the row has 3 cells where the header has 5 columns"),
    ),
    (
        "no people.csv",
        {"people": None},
        ("people.csv", 0, "", "", "the bundle has no people.csv"),
    ),
]


@pytest.mark.parametrize(
    ("changes", "expected"), [(c, e) for _, c, e in BAD_BUNDLES], ids=[w for w, _, _ in BAD_BUNDLES]
)
def test_a_bad_row_is_refused_naming_its_cell_and_nothing_changes(db, tmp_path, changes, expected):
    # given a database holding the sample, and the sample again with one bad row and one good new question
    bundle_write_files(tmp_path / "first")
    bundle_import(directory=tmp_path / "first")
    changes = {"questions": Q + "bo@gmail.com,2025-06-01T00:00:00Z,New?,\n", **changes}
    bundle_write_files(tmp_path / "bad", **changes)
    before = database_snapshot()
    # when
    with pytest.raises(BundleError) as refused:
        bundle_import(directory=tmp_path / "bad")
    # then
    file, line, column, _, problem = expected
    error = refused.value
    assert (error.file, error.line, error.column, error.value, error.problem) == expected
    where = f"{file} line {line}" if line else file
    assert error.message == f"{where}{f', column {column}' if column else ''}: {problem}"
    assert database_snapshot() == before


def test_the_message_names_file_line_column_and_value(db, tmp_path):
    # given
    bundle_write_files(
        tmp_path,
        people=replace_line(
            P, 3, "bo@gmail.com,Bo,Berg,Berg Consulting,consulting,1-10,SE,Owner,2025-13-01,"
        ),
    )
    # when
    with pytest.raises(BundleError) as refused:
        bundle_import(directory=tmp_path)
    # then
    assert (
        str(refused.value) == "people.csv line 3, column created_at: cannot read '2025-13-01' as a date-time"
    )
    assert refused.value.as_dict() == {
        "detail": "people.csv line 3, column created_at: cannot read '2025-13-01' as a date-time",
        "file": "people.csv",
        "line": 3,
        "column": "created_at",
        "field": "created_at",
        "value": "2025-13-01",
    }


def test_a_file_that_is_not_utf8_is_refused_at_its_line(db, tmp_path):
    # given
    bundle_write_files(tmp_path)
    (tmp_path / "questions.csv").write_bytes(
        SAMPLE["questions.csv"].encode() + "bo@gmail.com,2025-06-01,Caf\xe9?\n".encode("latin-1")
    )
    # when
    with pytest.raises(BundleError) as refused:
        bundle_import(directory=tmp_path)
    # then
    assert (refused.value.file, refused.value.line, refused.value.value) == ("questions.csv", 4, "0xe9")
    assert refused.value.problem == "the file is not UTF-8 text"


def test_a_failure_while_writing_rolls_back_everything(db, tmp_path, monkeypatch):
    # given a database holding the sample, then a bundle with changes in every file
    bundle_write_files(tmp_path / "first")
    bundle_import(directory=tmp_path / "first")
    people = replace_line(
        P, 2, "ana@acme.example,Ana,Lopez,Acme,software,51-200,ES,CEO,2025-03-02T09:00:00Z,"
    )
    bundle_write_files(
        tmp_path / "second",
        people=people + "new@acme.example,New,Person,Acme,software,51-200,ES,,2025-05-01T00:00:00Z,\n",
        touchpoints=T + "new@acme.example,2025-05-01T00:00:00Z,direct,,page_view\n",
    )
    before = database_snapshot()

    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    # the stage moves are the last write of a bundle import (crm's bulk stage service, called by the import)
    monkeypatch.setattr("tandem.capture.services.people_change_stage_bulk", broken)
    # when
    with pytest.raises(RuntimeError, match="disk full"):
        bundle_import(directory=tmp_path / "second")
    # then
    assert database_snapshot() == before
