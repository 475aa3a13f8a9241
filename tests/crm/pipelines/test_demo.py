"""The demo company's deals spread over the Sales pipeline: open deals across the open stages with expected close
dates, every deal's history ending where it stands, and the stage conversion narrowing as it should."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

from tandem.crm.models import Account, Deal, DealStageChange, LostReason, Pipeline
from tandem.crm.pipelines.selectors import pipeline_conversion
from tandem.crm.services import deals_create_bulk
from tandem.demo.company import generate_company
from tandem.demo.pipeline import pipeline_demo_spread


def test_demo_deals_are_spread_over_the_stages_with_expected_close_dates(db):
    # given the demo company's deals loaded as the bundle import loads them (each at the first stage of its status)
    company = generate_company(people=600, seed=7, end=dt.date(2026, 6, 30))
    account = Account.objects.create(name="Demo", created_at=company.deals[0].created_at)
    reason = LostReason.objects.create(name="No budget")
    deals_create_bulk(
        deals=[
            Deal(
                external_id=d.deal_id, account=account, amount=Decimal(d.amount_cents) / 100, stage=d.stage,
                created_at=d.created_at, closed_at=d.closed_at, lost_reason=reason if d.stage == "lost" else None,
            )
            for d in company.deals
        ]
    )
    # when they are walked through the pipeline
    written = pipeline_demo_spread(company=company)
    # then open deals stand in more than one open stage, and most have an expected close date
    open_deals = Deal.objects.filter(stage="open")
    by_stage = Counter(open_deals.values_list("pipeline_stage__name", flat=True))
    assert written > 0 and len(by_stage) >= 2
    assert open_deals.filter(expected_close_on__isnull=False).count() >= 0.8 * open_deals.count()
    # and every deal's last history row is the stage it stands in, entered when the deal says, one entry per stage
    for deal in Deal.objects.all():
        history = list(DealStageChange.objects.filter(deal=deal).order_by("changed_at", "id"))
        assert (history[-1].to_stage_id, history[-1].changed_at) == (deal.pipeline_stage_id, deal.stage_entered_at)
        assert [h.from_stage_id for h in history[1:]] == [h.to_stage_id for h in history[:-1]]
        assert history[0].from_stage_id is None
    # and fewer deals reach each later stage, every deal reaching the first
    reached = [s.reached for s in pipeline_conversion(pipeline=Pipeline.objects.get(is_default=True)).steps]
    assert reached == sorted(reached, reverse=True) and reached[0] == len(company.deals)
