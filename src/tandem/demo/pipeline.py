"""Demo data: the demo company's deals walked through the Sales pipeline, so the board and the forecast look real.

The bundle import places each deal at its pipeline's first stage of its status (open deals at "New"). Here each
open deal moves on as far as its age suggests and gets an expected close date; won deals went through every
open stage before they closed, and lost deals were lost from the stage they had reached.
"""

from __future__ import annotations

import datetime as dt
import random

from tandem.core.bulk import chunked
from tandem.core.events import event_record
from tandem.crm.models import Deal, DealStage, PipelineStage
from tandem.crm.pipelines.services import DealWalk, deals_walk_bulk
from tandem.demo.company import DemoCompany

DEMO_RULE = "demo"


def _times(start: dt.datetime, end: dt.datetime, count: int, rnd: random.Random) -> list[dt.datetime]:
    # `count` moments between start and end, in order, spread with a little jitter.
    span = max((end - start).total_seconds(), 60.0)
    points = sorted(rnd.uniform(0.15, 0.95) * span for _ in range(count))
    return [start + dt.timedelta(seconds=p) for p in points]


def pipeline_demo_spread(*, company: DemoCompany) -> int:
    """Walk the demo's deals through the default pipeline's open stages; returns the history rows written."""
    rnd = random.Random(company.seed * 31 + 14)
    stages = list(
        PipelineStage.objects.filter(pipeline__is_default=True, kind=DealStage.OPEN, is_active=True).order_by("position", "id")
    )
    if len(stages) < 2:
        return 0
    end_at = dt.datetime(company.end.year, company.end.month, company.end.day, tzinfo=dt.UTC)
    pks: dict[str, int] = {}
    for chunk in chunked([d.deal_id for d in company.deals]):
        for external_id, deal_pk in Deal.objects.filter(external_id__in=chunk).values_list("external_id", "pk"):
            pks[external_id or ""] = deal_pk
    walks: list[DealWalk] = []
    last = len(stages) - 1
    for row in company.deals:
        found = pks.get(row.deal_id)
        if found is None:
            continue
        pk = found
        if row.stage == DealStage.OPEN:
            # Older open deals have moved further; a few are overdue and a few have no date yet.
            age = (end_at - row.created_at).days
            reach = min(last, int(rnd.random() * (last + 1) * min(0.35 + age / 60, 1.0)))
            steps = tuple(zip((s.pk for s in stages[1 : reach + 1]), _times(row.created_at, end_at, reach, rnd), strict=True))
            draw = rnd.random()
            if draw < 0.05:
                close = None
            elif draw < 0.15:
                close = company.end - dt.timedelta(days=rnd.randint(1, 25))
            else:
                close = company.end + dt.timedelta(days=rnd.randint(3, 25) + (last - reach) * rnd.randint(8, 25))
            walks.append(DealWalk(pk, steps, close))
            continue
        assert row.closed_at is not None
        # Imported closed deals start their history at the close; their walk begins at "New" when they opened.
        reach = last if row.stage == DealStage.WON else min(last, int(rnd.triangular(0, last + 1, 0)))
        times = _times(row.created_at, row.closed_at, reach, rnd)
        steps = ((stages[0].pk, row.created_at), *zip((s.pk for s in stages[1 : reach + 1]), times, strict=True))
        close_on = (row.closed_at + dt.timedelta(days=rnd.randint(-10, 20))).date()
        walks.append(DealWalk(pk, steps, close_on))
    written = deals_walk_bulk(walks=walks)
    event_record(
        kind="demo.deals_walked",
        subject_type="crm.deal",
        rule=DEMO_RULE,
        data={"deals": len(walks), "stage_changes": written},
    )
    return written
