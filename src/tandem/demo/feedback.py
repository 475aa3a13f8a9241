"""Demo data for feedback: themes mined from the demo questions, and reps' lead-quality ratings."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.db import transaction

from tandem.core.events import event_record
from tandem.crm.models import Deal, Person
from tandem.feedback.models import LeadRating, Question, RatingReason
from tandem.feedback.services import themes_mine

RATED_PEOPLE = 400
# Rating and likely reasons by what became of the lead: reps rate good leads well and say why bad ones are bad.
_BY_OUTCOME: dict[str, tuple[tuple[int, ...], tuple[str, ...]]] = {
    "won": ((4, 5, 5), (RatingReason.GOOD_FIT, RatingReason.READY_TO_BUY, RatingReason.DECISION_MAKER)),
    "lost": ((2, 3, 3, 4), (RatingReason.NO_BUDGET, RatingReason.BAD_TIMING, RatingReason.ENGAGED)),
    "open": ((3, 4, 4), (RatingReason.ENGAGED, RatingReason.GOOD_FIT)),
    "none": ((1, 2, 2, 3), (RatingReason.NO_NEED, RatingReason.WRONG_PERSONA, RatingReason.BAD_CONTACT_DATA)),
}


def feedback_demo_seed(*, seed: int, users: dict[str, Any]) -> dict[str, int]:
    """Mine themes from the demo questions and rate a sample of the reps' leads (deterministic, < 2 s)."""
    # A tiny demo company may have too few questions to group; it still gets its ratings.
    mined = themes_mine(seed=0, by_user=users.get("marketing")) if Question.objects.count() >= 3 else None
    rnd = random.Random(seed)
    owned = list(
        Person.objects.filter(owner__isnull=False).order_by("id").values_list("id", "owner_id", "created_at")
    )
    sample = sorted(rnd.sample(owned, min(RATED_PEOPLE, len(owned))))
    # A person with a won deal counts as won; otherwise lost beats open.
    rank = {"won": 3, "lost": 2, "open": 1, "none": 0}
    outcome: dict[int, str] = {}
    for person_id, stage in Deal.objects.filter(person_id__in=[p[0] for p in sample]).values_list(
        "person_id", "stage"
    ):
        if rank.get(str(stage), 0) > rank[outcome.get(person_id, "none")]:
            outcome[person_id] = str(stage)
    rows = []
    for person_id, owner_id, created_at in sample:
        ratings, reasons = _BY_OUTCOME[outcome.get(person_id, "none")]
        rows.append(
            LeadRating(
                person_id=person_id,
                rating=rnd.choice(ratings),
                reasons=[str(r) for r in rnd.sample(reasons, rnd.choice((1, 1, 2)))],
                rated_by_id=owner_id,
                rated_at=created_at + dt.timedelta(days=rnd.randint(1, 10), hours=rnd.randint(0, 8)),
            )
        )
    with transaction.atomic():
        LeadRating.objects.bulk_create(rows, batch_size=500)
        event_record(
            kind="demo.lead_ratings",
            subject_type="feedback.leadrating",
            data={"ratings": len(rows), "themed_questions": mined.assigned if mined else 0},
        )
    return {"themes": len(mined.created) + len(mined.kept) if mined else 0, "lead_ratings": len(rows)}
