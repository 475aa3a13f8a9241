"""The demo company's collateral requests: reps asking marketing for material over the last five months,
in every column of the board (some overdue, some due soon), with lead times that differ by type and a few
requests that keep coming back from several reps (so the library suggestions have something to say)."""

from __future__ import annotations

import datetime as dt
import math
import random
from typing import Any

from django.db import transaction
from django.utils import timezone

from tandem.enablement.requests.services import collateral_request_file, collateral_request_move

# Typical days from request to delivery, by type.
LEAD_DAYS = {"flyer": 3.0, "brochure": 8.0, "deck": 5.0, "swag": 14.0, "case_study": 21.0, "other": 6.0}
# Purposes by type; the first of each list comes back from several reps in different words.
PURPOSES: dict[str, list[str]] = {
    "case_study": [
        "Healthcare case study for a hospital group", "Case study from a hospital customer (healthcare)",
        "A healthcare case study, ideally a hospital", "Manufacturing case study with numbers on lead routing",
        "Case study of a SaaS company that replaced spreadsheets",
    ],
    "deck": [
        "Security and compliance deck for the IT review", "Deck on security and compliance for IT",
        "Compliance and security deck for their IT team", "Pitch deck in Spanish for the Madrid prospect",
        "Executive summary deck for a CFO meeting",
    ],
    "flyer": [
        "ROI flyer for CFOs", "One-page ROI flyer for a CFO", "Flyer for the partner day in Austin",
        "Flyer with the new pricing tiers",
    ],
    "brochure": ["Printed brochures for the customer day", "Brochure in German for the Munich prospect", "Brochure for the trade fair stand"],
    "swag": ["T-shirts for the hackathon sponsorship", "Mugs for the customer onboarding kit", "Stickers and pens for the meetup"],
    "other": ["Pricing sheet translated into Spanish", "Reference call with a customer in logistics"],
}
DECLINE_REASONS = [
    "The existing security deck covers this; link sent",
    "No budget for printed material this quarter",
    "Too little time before the due date; ask three weeks ahead",
]
COUNT = 48
OPEN_COUNT = 12
# Share of its lead time an open request has been waiting: new (< 0.1), accepted (< 0.3), in progress.
OPEN_PROGRESS = (0.05, 0.2, 0.6, 0.9)


def _at(start: dt.datetime, days: float, now: dt.datetime) -> dt.datetime:
    return min(start + dt.timedelta(days=days), now)


@transaction.atomic
def collateral_demo_seed(*, seed: int, users: dict[str, Any], now: dt.datetime | None = None) -> int:
    """File and move the demo's collateral requests; returns how many were filed."""
    from tandem.crm.models import Deal

    rnd = random.Random(seed * 7919 + 8)
    now = now or timezone.now()
    marketer = users["marketing"]
    reps = sorted((u for u in users.values() if u.role == "sales_rep"), key=lambda u: u.username)
    if not reps:
        return 0
    deals: dict[int, list[int]] = {}
    for pk, owner_id in Deal.objects.filter(owner__in=reps, stage="open").order_by("id").values_list("id", "owner_id")[:2000]:
        if owner_id is not None:
            deals.setdefault(owner_id, []).append(pk)
    kinds = sorted(PURPOSES)
    for i in range(COUNT):
        kind = kinds[i % len(kinds)] if i < 12 else rnd.choice(kinds)
        # The repeated purposes go to different reps; the rest to anyone.
        repeat = rnd.random() < 0.4
        purpose = PURPOSES[kind][rnd.randrange(3) if repeat and kind in ("case_study", "deck", "flyer") else rnd.randrange(len(PURPOSES[kind]))]
        rep = reps[(i * 5 + rnd.randrange(len(reps))) % len(reps)]
        lead = LEAD_DAYS[kind] * math.exp(rnd.gauss(0.0, 0.35))
        if i < COUNT - OPEN_COUNT:
            age = rnd.uniform(lead + 1.0, 150.0)
            due_on = (now - dt.timedelta(days=age) + dt.timedelta(days=max(1.0, lead * rnd.uniform(0.7, 1.8)))).date()
        else:
            # The latest requests are still on their way: new, accepted or in progress, some due soon or late.
            age = lead * OPEN_PROGRESS[i % len(OPEN_PROGRESS)]
            due_on = (now - dt.timedelta(days=age) + dt.timedelta(days=max(1.0, lead * rnd.uniform(0.3, 1.6)))).date()
        filed_at = now - dt.timedelta(days=age)
        rep_deals = deals.get(rep.pk, [])
        deal_id = rnd.choice(rep_deals) if rep_deals and rnd.random() < 0.6 else None
        quantity = rnd.choice([50, 100, 250]) if kind in ("flyer", "brochure", "swag") else 1
        request = collateral_request_file(
            by_user=rep, kind=kind, purpose=purpose, due_on=due_on, quantity=quantity, deal_id=deal_id, at=filed_at
        )
        progress = age / lead
        if progress >= 1.0 and rnd.random() < 0.12:
            collateral_request_move(request_id=request.pk, to="declined", by_user=marketer,
                                    reason=rnd.choice(DECLINE_REASONS), at=_at(filed_at, min(1.0, lead * 0.1), now))
            continue
        steps = [("accepted", 0.1), ("in_progress", 0.3)] + ([("delivered", 1.0)] if progress >= 1.0 else [])
        if progress < 0.1:
            steps = []
        elif progress < 0.3:
            steps = steps[:1]
        for to, share in steps:
            note = f"https://drive.demo.tandem.example/collateral/{request.pk}" if to == "delivered" else ""
            collateral_request_move(request_id=request.pk, to=to, by_user=marketer, note=note, at=_at(filed_at, lead * share, now))
    return COUNT
