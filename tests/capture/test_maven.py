"""`tandem import maven` on a small folder shaped like Maven's: what each file becomes, refusals that write
nothing, a dry run, and a re-import of changed rows (stage moves with history, changed amounts and accounts)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tandem.capture.csvimport.maven import maven_import, size_band_of, username_of
from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import Account, Deal, DealStageChange, Pipeline
from tandem.enablement.models import DealProduct, Product
from tandem.users.models import Team, User

TEAMS = "sales_agent,manager,regional_office\r\nMoses Frase,Dustin Brinkmann,Central\r\nMei-Mei Johns,Cara Losch,East\r\n"
PRODUCTS = "product,series,sales_price\r\nGTX Pro,GTX,4821\r\nMG Special,MG,55\r\n"
ACCOUNTS = (
    "account,sector,year_established,revenue,employees,office_location,subsidiary_of\r\n"
    "Acme Corporation,technolgy,1996,1100.04,2822,United States,\r\n"
    "Betatech,medical,1986,647.18,1185,Philipines,Acme Corporation\r\n"
)
PIPELINE = (
    "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\r\n"
    "OPP1,Moses Frase,GTXPro,Acme Corporation,Won,2016-10-20,2017-03-01,4514\r\n"
    "OPP2,Moses Frase,MG Special,Betatech,Lost,2016-10-25,2017-01-07,0\r\n"
    "OPP3,Mei-Mei Johns,GTX Pro,,Engaging,2017-02-01,,\r\n"
    "OPP4,Mei-Mei Johns,MG Special,Betatech,Prospecting,,,\r\n"
)
T = dt.datetime


def _folder(tmp_path: Path, **files: str) -> Path:
    texts = {
        "sales_teams": TEAMS,
        "products": PRODUCTS,
        "accounts": ACCOUNTS,
        "sales_pipeline": PIPELINE,
        **files,
    }
    for name, text in texts.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    return tmp_path


def _state() -> tuple[object, ...]:
    return (
        list(User.objects.order_by("pk").values_list("username", "role", "team__name")),
        list(Team.objects.order_by("pk").values_list("name", "time_zone", "manager__username")),
        list(Product.objects.order_by("pk").values_list("name", "summary")),
        list(
            Account.objects.order_by("pk").values_list(
                "name", "industry", "country", "size_band", "custom_fields"
            )
        ),
        list(
            Deal.objects.order_by("pk").values_list(
                "external_id",
                "name",
                "account__name",
                "owner__username",
                "amount",
                "stage",
                "pipeline_stage__name",
                "created_at",
                "closed_at",
                "custom_fields",
            )
        ),
        list(
            DealStageChange.objects.order_by("pk").values_list(
                "deal__external_id", "from_stage__name", "to_stage__name", "changed_at"
            )
        ),
        list(
            DealProduct.objects.order_by("pk").values_list("deal__external_id", "product__name", "unit_price")
        ),
        Pipeline.objects.count(),
        Event.objects.count(),
    )


def test_each_file_becomes_users_teams_products_accounts_and_account_level_deals(db, tmp_path):
    # when
    result = maven_import(directory=_folder(tmp_path))
    # then
    assert result.summary() == {
        "pipeline_created": True,
        "users": {"created": 4, "updated": 0, "unchanged": 0},
        "teams": {"created": 2, "updated": 0, "unchanged": 0},
        "products": {"created": 2, "updated": 0, "unchanged": 0},
        "accounts": {"created": 2, "updated": 0, "unchanged": 0},
        "deals": {"created": 4, "updated": 0, "unchanged": 0},
        "stage_changes": 6,
        "product_lines_changed": 4,
    }
    state = _state()
    assert state[0] == [
        ("cara.losch", "sales_manager", None),
        ("dustin.brinkmann", "sales_manager", None),
        ("moses.frase", "sales_rep", "Central (Dustin Brinkmann)"),
        ("mei-mei.johns", "sales_rep", "East (Cara Losch)"),
    ]
    assert not User.objects.get(username="moses.frase").has_usable_password()
    assert state[1] == [
        ("East (Cara Losch)", "America/New_York", "cara.losch"),
        ("Central (Dustin Brinkmann)", "America/Chicago", "dustin.brinkmann"),
    ]
    assert state[2] == [
        ("GTX Pro", "GTX series; list price 4,821.00 USD"),
        ("MG Special", "MG series; list price 55.00 USD"),
    ]
    assert state[3] == [
        (
            "Acme Corporation",
            "technology",
            "United States",
            "1001-5000",
            {"year_established": 1996, "revenue_musd": 1100.04, "employees": 2822},
        ),
        (
            "Betatech",
            "medical",
            "Philippines",
            "1001-5000",
            {
                "year_established": 1986,
                "revenue_musd": 647.18,
                "employees": 1185,
                "subsidiary_of": "Acme Corporation",
            },
        ),
    ]
    deals = {row[0]: row[1:] for row in state[4]}
    assert deals["maven-OPP1"] == (
        "GTX Pro · Acme Corporation",
        "Acme Corporation",
        "moses.frase",
        Decimal("4514.00"),
        "won",
        "Won",
        T(2016, 10, 20, tzinfo=dt.UTC),
        T(2017, 3, 1, tzinfo=dt.UTC),
        {},
    )
    assert deals["maven-OPP2"][3:7] == (Decimal("0.00"), "lost", "Lost", T(2016, 10, 25, tzinfo=dt.UTC))
    # an open deal is worth its product's list price, and says so
    assert deals["maven-OPP3"] == (
        "GTX Pro",
        None,
        "mei-mei.johns",
        Decimal("4821.00"),
        "open",
        "Engaging",
        T(2017, 2, 1, tzinfo=dt.UTC),
        None,
        {"amount_basis": "list price"},
    )
    assert deals["maven-OPP4"][3:6] == (Decimal("55.00"), "open", "Prospecting")
    history = sorted(
        (row for row in state[5] if row[0] in ("maven-OPP1", "maven-OPP3")), key=lambda r: (r[0], r[3])
    )
    assert history == [
        ("maven-OPP1", None, "Engaging", T(2016, 10, 20, tzinfo=dt.UTC)),
        ("maven-OPP1", "Engaging", "Won", T(2017, 3, 1, tzinfo=dt.UTC)),
        ("maven-OPP3", None, "Engaging", T(2017, 2, 1, tzinfo=dt.UTC)),
    ]
    assert state[6] == [
        ("maven-OPP1", "GTX Pro", Decimal("4821.00")),
        ("maven-OPP2", "MG Special", Decimal("55.00")),
        ("maven-OPP3", "GTX Pro", Decimal("4821.00")),
        ("maven-OPP4", "MG Special", Decimal("55.00")),
    ]
    maven = Pipeline.objects.get(name="Maven CRM")
    assert list(maven.stages.values_list("name", "kind", "probability")) == [
        ("Prospecting", "open", 10),
        ("Engaging", "open", 60),
        ("Won", "won", 100),
        ("Lost", "lost", 0),
    ]
    assert not maven.is_default


def test_a_second_run_changes_nothing(db, tmp_path):
    # given
    folder = _folder(tmp_path)
    maven_import(directory=folder)
    before = _state()
    # when
    again = maven_import(directory=folder)
    # then
    assert not again.changed
    assert again.deals.as_dict() == {"created": 0, "updated": 0, "unchanged": 4}
    assert _state() == before


def test_a_dry_run_counts_and_writes_nothing(db, tmp_path):
    # given
    before = _state()
    # when
    result = maven_import(directory=_folder(tmp_path), dry_run=True)
    # then
    assert (result.dry_run, result.deals.created, result.accounts.created) == (True, 4, 2)
    assert _state() == before


def test_changed_rows_move_their_deals_with_history_and_update_the_rest(db, tmp_path):
    # given an imported folder whose export later moved on
    maven_import(directory=_folder(tmp_path))
    later = (
        PIPELINE.replace(
            "OPP3,Mei-Mei Johns,GTX Pro,,Engaging,2017-02-01,,",
            "OPP3,Mei-Mei Johns,GTX Pro,,Won,2017-02-01,2017-04-02,4700",
        )
        .replace(
            "OPP4,Mei-Mei Johns,MG Special,Betatech,Prospecting,,,",
            "OPP4,Mei-Mei Johns,MG Special,Betatech,Engaging,2017-03-01,,",
        )
        .replace("2017-03-01,4514", "2017-03-01,4600")
    )
    accounts = ACCOUNTS.replace("Betatech,medical", "Betatech,healthcare")
    # when
    result = maven_import(directory=_folder(tmp_path, sales_pipeline=later, accounts=accounts))
    # then
    assert result.deals.as_dict() == {"created": 0, "updated": 3, "unchanged": 1}
    assert result.accounts.as_dict() == {"created": 0, "updated": 1, "unchanged": 1}
    won = Deal.objects.get(external_id="maven-OPP3")
    assert (won.stage, won.pipeline_stage.name, won.amount, won.closed_at, won.custom_fields) == (
        "won",
        "Won",
        Decimal("4700.00"),
        T(2017, 4, 2, tzinfo=dt.UTC),
        {},
    )
    assert list(won.stage_changes.values_list("from_stage__name", "to_stage__name", "changed_at")) == [
        (None, "Engaging", T(2017, 2, 1, tzinfo=dt.UTC)),
        ("Engaging", "Won", T(2017, 4, 2, tzinfo=dt.UTC)),
    ]
    engaged = Deal.objects.get(external_id="maven-OPP4")
    assert (engaged.stage, engaged.pipeline_stage.name, engaged.created_at) == (
        "open",
        "Engaging",
        T(2017, 3, 1, tzinfo=dt.UTC),
    )
    assert list(engaged.stage_changes.values_list("from_stage__name", "to_stage__name")) == [
        (None, "Prospecting"),
        ("Prospecting", "Engaging"),
    ]
    assert Deal.objects.get(external_id="maven-OPP1").amount == Decimal("4600.00")
    assert Account.objects.get(name="Betatech").industry == "healthcare"
    assert Event.objects.filter(kind="account.updated").count() == 1


@pytest.mark.parametrize(
    ("file", "text", "message"),
    [
        (
            "sales_pipeline",
            PIPELINE.replace("GTXPro", "GTX Ultra"),
            "sales_pipeline.csv, row 2, column 'product': 'GTX Ultra' is not a product of products.csv",
        ),
        (
            "sales_pipeline",
            PIPELINE.replace(",Won,", ",Closed,"),
            "sales_pipeline.csv, row 2, column 'deal_stage': unknown deal stage 'Closed' "
            "(expected Prospecting, Engaging, Won, Lost)",
        ),
        (
            "sales_pipeline",
            PIPELINE.replace("2017-03-01,4514", "2017-03-01,"),
            "sales_pipeline.csv, row 2, column 'close_value': a Won deal needs its close value",
        ),
        (
            "sales_pipeline",
            PIPELINE.replace("2016-10-20,2017-03-01", "2017-10-20,2017-03-01"),
            "sales_pipeline.csv, row 2, column 'close_date': closed before it was engaged (2017-10-20)",
        ),
        (
            "sales_pipeline",
            PIPELINE.replace("OPP2,Moses", "OPP1,Moses"),
            "sales_pipeline.csv, row 3, column 'opportunity_id': opportunity 'OPP1' is listed twice (also on row 2)",
        ),
        (
            "sales_pipeline",
            PIPELINE.replace("Moses Frase,GTXPro", "Nobody,GTXPro"),
            "sales_pipeline.csv, row 2, column 'sales_agent': 'Nobody' is not an agent of sales_teams.csv",
        ),
        (
            "accounts",
            ACCOUNTS.replace("2822", "many"),
            "accounts.csv, row 2, column 'employees': 'many' is not a whole number",
        ),
        (
            "sales_teams",
            TEAMS.replace("Cara Losch,East", "Dustin Brinkmann,East"),
            "sales_teams.csv, row 3, column 'regional_office': Dustin Brinkmann manages in Central, not also in East",
        ),
        ("products", "product,series\r\nGTX Pro,GTX\r\n", "products.csv has no column 'sales_price'"),
    ],
)
def test_a_bad_cell_refuses_the_folder_naming_it_and_writes_nothing(db, tmp_path, file, text, message):
    # given
    folder = _folder(tmp_path, **{file: text})
    before = _state()
    # when
    with pytest.raises(ValidationFailed) as refused:
        maven_import(directory=folder)
    # then
    assert refused.value.message == message
    assert _state() == before


def test_the_command_prints_its_counts_and_refuses_a_missing_folder(db, tmp_path):
    # given
    out = StringIO()
    # when
    call_command("import", "maven", str(_folder(tmp_path)), "--no-progress", stdout=out)
    with pytest.raises(CommandError) as missing:
        call_command("import", "maven", str(tmp_path / "nope"), "--no-progress", stdout=StringIO())
    # then
    assert out.getvalue().splitlines() == [
        "             created   updated  unchanged",
        "users              4         0          0",
        "teams              2         0          0",
        "products           2         0          0",
        "accounts           2         0          0",
        "deals              4         0          0",
        "pipeline 'Maven CRM': created; deal stage changes written: 6; product lines changed: 4",
    ]
    assert str(missing.value) == f"{tmp_path / 'nope'} is not a folder"


def test_size_bands_and_usernames():
    assert [size_band_of(n) for n in (None, 9, 10, 11, 200, 201, 5000, 5001)] == [
        "",
        "1-10",
        "1-10",
        "11-50",
        "51-200",
        "201-1000",
        "1001-5000",
        "5001+",
    ]
    assert username_of("Mei-Mei Johns") == "mei-mei.johns"
    assert username_of("  Rosalina  Dieter ") == "rosalina.dieter"
