"""The forecast (amount × stage probability by expected close month, owner and pipeline, plus won amounts) and the
conversion between a pipeline's stages: exact figures, aggregated in the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tandem.core.errors import ValidationFailed
from tandem.crm.models import Pipeline
from tandem.crm.pipelines import selectors, services
from tandem.crm.pipelines.services import StageSpec
from tandem.crm.services import deal_close, deal_create
from tests.crm.factories import AccountFactory, PersonFactory
from tests.crm.pipelines.helpers import sales_stages
from tests.users.factories import UserFactory

CREATED = dt.datetime(2025, 5, 1, 9, 0, tzinfo=dt.UTC)
JUNE_10 = dt.datetime(2025, 6, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def book(db):
    """Two reps' deals across June and July 2025 in two pipelines, one overdue, one undated, one won, one lost."""
    stages = sales_stages()
    rep1 = UserFactory(first_name="Rita", last_name="Rep")
    rep2 = UserFactory(first_name="Sam", last_name="Seller")
    renewals = services.pipeline_create(
        name="Renewals", stages=[StageSpec("Due", probability=60), StageSpec("Renewed", "won"), StageSpec("Churned", "lost")]
    )

    def deal(name, amount, stage, close=None, owner=None, pipeline=None):  # type: ignore[no-untyped-def]
        return deal_create(
            account=AccountFactory(), name=name, amount=Decimal(amount), stage=stage, pipeline=pipeline,
            expected_close_on=close, owner=owner, created_at=CREATED,
        )

    a = deal("A", "10000.00", stages["Proposal"], dt.date(2025, 6, 20), rep1)
    b = deal("B", "3000.10", stages["Qualified"], dt.date(2025, 6, 5), rep1)
    deal("C", "8000", stages["Negotiation"], dt.date(2025, 7, 31), rep2)
    deal("D", "2000", stages["New"], dt.date(2025, 5, 31))
    deal("E", "1000", stages["New"], None, rep2)
    f = deal("F", "4000", stages["New"], dt.date(2025, 6, 30), rep1)
    deal_close(deal=f, won=True, at=JUNE_10)
    g = deal("G", "9000", stages["New"], dt.date(2025, 6, 30), rep2)
    deal_close(deal=g, won=False, lost_reason="No budget", at=JUNE_10)
    deal("H", "5000", renewals.stages.get(name="Due"), dt.date(2025, 7, 1), rep2, renewals)
    return {"a": a, "b": b, "rep1": rep1, "rep2": rep2, "renewals": renewals, "stages": stages}


def _months(f: selectors.Forecast) -> list[tuple[str, int, Decimal, Decimal, Decimal, Decimal]]:
    return [(r.label, r.deals, r.amount, r.weighted, r.won, r.forecast) for r in f.months]


def test_forecast_by_month_owner_and_pipeline_is_exact(book):
    # when the forecast for June to August 2025 is read
    f = selectors.forecast_get(month_from="2025-06", months=3)
    # then June weighs A at 50% and B at 25% (3000.10 × 25% = 750.025, the sum rounded once) and adds F won
    assert _months(f) == [
        ("Jun 2025", 2, Decimal("13000.10"), Decimal("5750.03"), Decimal("4000.00"), Decimal("9750.03")),
        ("Jul 2025", 2, Decimal("13000.00"), Decimal("9000.00"), Decimal("0"), Decimal("9000.00")),
        ("Aug 2025", 0, Decimal("0"), Decimal("0"), Decimal("0"), Decimal("0")),
    ]
    assert (f.total.deals, f.total.amount, f.total.weighted, f.total.won, f.total.forecast) == (
        4, Decimal("26000.10"), Decimal("14750.03"), Decimal("4000.00"), Decimal("18750.03"),
    )
    assert [(r.label, r.deals, r.weighted, r.won, r.forecast) for r in f.by_owner] == [
        ("Rita Rep", 2, Decimal("5750.03"), Decimal("4000.00"), Decimal("9750.03")),
        ("Sam Seller", 2, Decimal("9000.00"), Decimal("0"), Decimal("9000.00")),
    ]
    assert [(r.label, r.weighted, r.forecast) for r in f.by_pipeline] == [
        ("Sales", Decimal("11750.03"), Decimal("15750.03")),
        ("Renewals", Decimal("3000.00"), Decimal("3000.00")),
    ]
    # and D is overdue (expected in May, still open), E has no date
    assert (f.overdue.deals, f.overdue.amount, f.undated.deals, f.undated.amount) == (1, Decimal("2000.00"), 1, Decimal("1000.00"))


def test_the_forecast_changes_when_a_deal_moves(book):
    # given the June forecast
    before = selectors.forecast_get(month_from="2025-06", months=1).months[0].forecast
    # when A moves from Proposal (50%) to Negotiation (75%)
    services.deal_move(deal=book["a"], to_stage=book["stages"]["Negotiation"], by_user=None, at=JUNE_10)
    after_a = selectors.forecast_get(month_from="2025-06", months=1).months[0]
    # and B is won in June
    services.deal_move(deal=book["b"], to_stage=book["stages"]["Won"], by_user=None, at=JUNE_10 + dt.timedelta(days=1))
    after_b = selectors.forecast_get(month_from="2025-06", months=1).months[0]
    # then June's weighted amount rises by 2,500, then B's 750.03 leaves the weighted and its 3,000.10 joins the won
    assert before == Decimal("9750.03")
    assert (after_a.weighted, after_a.forecast) == (Decimal("8250.03"), Decimal("12250.03"))
    assert (after_b.deals, after_b.weighted, after_b.won, after_b.forecast) == (
        1, Decimal("7500.00"), Decimal("7000.10"), Decimal("14500.10"),
    )


def test_forecast_filters_by_pipeline_and_owner(book):
    # when the forecast is read for Renewals, and for the unassigned
    renewals = selectors.forecast_get(month_from="2025-06", months=3, pipeline_id=book["renewals"].pk)
    unassigned = selectors.forecast_get(month_from="2025-06", months=3, owner="none")
    rep2 = selectors.forecast_get(month_from="2025-06", months=3, owner=str(book["rep2"].pk))
    # then each sees its own deals only
    assert [r.weighted for r in renewals.months] == [Decimal("0"), Decimal("3000.00"), Decimal("0")]
    assert (unassigned.total.deals, unassigned.overdue.deals) == (0, 1)
    assert (rep2.total.weighted, rep2.undated.deals) == (Decimal("9000.00"), 1)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"month_from": "2025-13"}, "month_from"), ({"months": 0}, "months"), ({"owner": "bob"}, "owner")],
)
def test_forecast_refuses_bad_filters_naming_them(db, kwargs, field):
    with pytest.raises(ValidationFailed) as err:
        selectors.forecast_get(**kwargs)
    assert err.value.field == field


def test_forecast_runs_a_fixed_number_of_queries(book, django_assert_num_queries):
    # given / when / then: seven aggregates whatever the number of deals
    with django_assert_num_queries(7):
        selectors.forecast_get(month_from="2025-06", months=3)


def test_stage_conversion_counts_deals_that_reached_each_stage(db):
    # given five deals of the Sales pipeline on different paths
    stages = sales_stages()
    at = lambda n: CREATED + dt.timedelta(days=n)  # noqa: E731

    def walk(*names: str, start: str = "New") -> None:
        deal = deal_create(person=PersonFactory(), amount=Decimal("1"), stage=stages[start], created_at=CREATED)
        for i, name in enumerate(names, start=1):
            lost = "No budget" if stages[name].kind == "lost" else None
            services.deal_move(deal=deal, to_stage=stages[name], by_user=None, at=at(i), lost_reason=lost)

    walk("Qualified", "Proposal", "Won")
    walk("Qualified", "Lost")
    walk("Proposal")
    walk()
    walk(start="Qualified")
    # when the conversion is read
    result = selectors.pipeline_conversion(pipeline=Pipeline.objects.get(is_default=True))
    # then a later stage counts as passing the earlier ones; conversion is against the step before
    assert [(s.stage.name, s.reached, s.conversion, s.lost_here, s.now_here) for s in result.steps] == [
        ("New", 5, None, 0, 1),
        ("Qualified", 4, 0.8, 1, 1),
        ("Proposal", 2, 0.5, 0, 1),
        ("Negotiation", 1, 0.5, 0, 0),
        ("Won", 1, 1.0, 0, 1),
    ]
    assert (result.deals, result.lost) == (5, 1)
