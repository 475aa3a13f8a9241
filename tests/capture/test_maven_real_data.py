"""Maven Analytics' CRM sales data set (../shared/data/maven_crm_sales) imported with the one documented command:
won/lost counts and revenue by sales agent equal an independent computation on the files, and a second run
changes nothing."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from decimal import Decimal
from io import StringIO
from pathlib import Path

from django.core.management import call_command
from django.db.models import Count, Q, Sum

from tandem.core.models import Event
from tandem.crm.models import Account, Deal, DealStageChange, Pipeline
from tandem.enablement.models import DealProduct, Product
from tandem.users.models import Team, User


def _independent(folder: Path) -> dict[str, tuple[int, int, Decimal]]:
    """(won, lost, revenue of won deals) per sales agent, straight from sales_pipeline.csv."""
    try:
        import pandas as pd
    except ImportError:  # the bench extras are not installed: the csv module tells the same
        won: Counter[str] = Counter()
        lost: Counter[str] = Counter()
        revenue: defaultdict[str, Decimal] = defaultdict(Decimal)
        with (folder / "sales_pipeline.csv").open(newline="") as f:
            for row in csv.DictReader(f):
                if row["deal_stage"] == "Won":
                    won[row["sales_agent"]] += 1
                    revenue[row["sales_agent"]] += Decimal(row["close_value"])
                elif row["deal_stage"] == "Lost":
                    lost[row["sales_agent"]] += 1
        return {a: (won[a], lost[a], revenue[a]) for a in set(won) | set(lost)}
    frame = pd.read_csv(folder / "sales_pipeline.csv")
    closed = frame[frame.deal_stage.isin(["Won", "Lost"])]
    counts = closed.groupby(["sales_agent", "deal_stage"]).size().unstack(fill_value=0)
    sums = closed[closed.deal_stage == "Won"].groupby("sales_agent").close_value.sum()
    return {
        agent: (
            int(counts.loc[agent, "Won"]),
            int(counts.loc[agent, "Lost"]),
            Decimal(int(sums.get(agent, 0))),
        )
        for agent in counts.index
    }


def _stored() -> dict[str, tuple[int, int, Decimal]]:
    rows = (
        Deal.objects.filter(pipeline__name="Maven CRM")
        .values("owner__first_name", "owner__last_name")
        .annotate(
            won=Count("id", filter=Q(stage="won")),
            lost=Count("id", filter=Q(stage="lost")),
            revenue=Sum("amount", filter=Q(stage="won")),
        )
    )
    return {
        f"{r['owner__first_name']} {r['owner__last_name']}": (
            r["won"],
            r["lost"],
            r["revenue"] or Decimal("0"),
        )
        for r in rows
        if r["won"] or r["lost"]
    }


def _state() -> tuple[object, ...]:
    return (
        User.objects.count(),
        Team.objects.count(),
        Product.objects.count(),
        list(
            Account.objects.order_by("pk").values_list(
                "name", "industry", "country", "size_band", "custom_fields"
            )
        ),
        list(
            Deal.objects.order_by("pk").values_list(
                "external_id",
                "account_id",
                "owner_id",
                "amount",
                "stage",
                "pipeline_stage_id",
                "created_at",
                "closed_at",
                "updated_at",
            )
        ),
        DealStageChange.objects.count(),
        DealProduct.objects.count(),
        Event.objects.count(),
    )


def test_maven_crm_imports_in_one_command_and_matches_the_files(db, shared_data):
    # given
    folder = shared_data / "maven_crm_sales"
    out = StringIO()
    # when
    call_command("import", "maven", str(folder), "--no-progress", stdout=out)
    # then the won/lost counts and the revenue of every agent are the files' own
    expected = _independent(folder)
    assert _stored() == expected
    assert len(expected) == 30
    assert sum(r for _, _, r in expected.values()) == Decimal("10005534")
    # and so are the accounts, the stages, the owners, the teams and the products
    maven = Pipeline.objects.get(name="Maven CRM")
    by_stage = dict(
        Deal.objects.filter(pipeline=maven)
        .values_list("pipeline_stage__name")
        .annotate(n=Count("id"))
        .values_list("pipeline_stage__name", "n")
    )
    assert by_stage == {"Won": 4238, "Lost": 2473, "Engaging": 1589, "Prospecting": 500}
    assert Account.objects.count() == 85
    assert Deal.objects.filter(account__isnull=True).count() == 1425
    assert Deal.objects.filter(person__isnull=False).count() == 0
    assert Deal.objects.values("owner").distinct().count() == 30
    assert User.objects.filter(role="sales_rep").count() == 35
    assert User.objects.filter(role="sales_manager").count() == 6
    assert sorted(Team.objects.values_list("name", "manager__username")) == [
        ("Central (Dustin Brinkmann)", "dustin.brinkmann"),
        ("Central (Melvin Marxen)", "melvin.marxen"),
        ("East (Cara Losch)", "cara.losch"),
        ("East (Rocco Neubert)", "rocco.neubert"),
        ("West (Celia Rouche)", "celia.rouche"),
        ("West (Summer Sewald)", "summer.sewald"),
    ]
    assert User.objects.get(username="moses.frase").team.name == "Central (Dustin Brinkmann)"
    assert Product.objects.count() == 7
    assert DealProduct.objects.filter(product__name="GTX Pro").count() == 1480
    assert (
        out.getvalue()
        .splitlines()[-1]
        .startswith("pipeline 'Maven CRM': created; deal stage changes written: ")
    )

    # when the same command runs again
    before = _state()
    again = StringIO()
    call_command("import", "maven", str(folder), "--no-progress", stdout=again)
    # then nothing changed
    assert again.getvalue().splitlines()[-1] == "nothing changed: the database already held this data"
    assert _state() == before
