"""REST endpoints for scoring: model versions, training, a person's score and the rep's queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from ninja.errors import AuthorizationError

from tandem.core.errors import NotFound
from tandem.crm.models import Person
from tandem.scoring import selectors
from tandem.scoring.models import PersonScore
from tandem.scoring.services import people_score_refresh, scoring_model_train
from tandem.users.models import Role

router = Router(tags=["scoring"])
VIEW_ROLES = frozenset({Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER})


class ModelOut(Schema):
    version: str
    created_at: dt.datetime
    status: str
    kind: str
    horizon_days: float
    reason: str
    metrics: dict[str, Any]
    tiers: dict[str, Any]


class TrainIn(Schema):
    horizon_days: float = 90.0


class ScoreOut(Schema):
    person_id: int
    probability: float | None
    tier: str
    expected_value: float | None
    fit_grade: str
    engagement: float
    factors: dict[str, Any]
    model_version: str | None
    scored_at: dt.datetime


class QueueItem(Schema):
    person_id: int
    name: str
    email: str
    probability: float | None
    tier: str
    expected_value: float | None
    created_at: dt.datetime


def _role(request: HttpRequest) -> str:
    return str(getattr(request.user, "role", ""))


@router.get("/scoring/models", response=list[ModelOut])
def models_list(request: HttpRequest) -> list[Any]:
    """Model versions, newest first, with their validation metrics and tiers."""
    if _role(request) not in VIEW_ROLES:
        raise AuthorizationError(message="Only admins, marketing and sales managers see scoring models.")
    return list(selectors.scoring_models_list()[:50])


@router.post("/scoring/train", response=ModelOut)
def train(request: HttpRequest, payload: TrainIn) -> Any:
    """Train a model on closed outcomes (admins); it becomes active unless worse than naive Bayes."""
    if _role(request) != Role.ADMIN:
        raise AuthorizationError(message="Only admins train scoring models.")
    row = scoring_model_train(horizon_days=payload.horizon_days, by_user=request.user)
    if row.status == "active":
        people_score_refresh()
    return row


@router.get("/people/{int:person_id}/score", response=ScoreOut)
def person_score(request: HttpRequest, person_id: int) -> dict[str, Any]:
    """A person's latest score with its top factors (404 when not scored)."""
    person = Person.objects.filter(pk=person_id).only("id", "owner_id").first()
    if person is None:
        raise NotFound("No such person.", field="person_id", value=person_id)
    if _role(request) == Role.SALES_REP and person.owner_id != request.user.pk:
        raise AuthorizationError(message="Sales reps see the scores of their own leads only.")
    score = selectors.person_score_get(person_id=person_id)
    if score is None:
        raise NotFound("This person has no score yet.", field="person_id", value=person_id)
    return {
        "person_id": person_id,
        "probability": score.probability,
        "tier": score.tier,
        "expected_value": score.expected_value,
        "fit_grade": score.fit_grade,
        "engagement": score.engagement,
        "factors": score.factors,
        "model_version": score.model.version if score.model_id and score.model else None,
        "scored_at": score.scored_at,
    }


@router.get("/scoring/queue", response=list[QueueItem])
def queue(request: HttpRequest, order: str = "expected_value") -> list[dict[str, Any]]:
    """The signed-in user's open leads, by expected value (or probability, or created)."""
    out = []
    for p in selectors.rep_queue(user=request.user, order=order):
        score: PersonScore = p.score  # type: ignore[attr-defined]  # reverse one-to-one, selected with the person
        out.append(
            {
                "person_id": p.pk,
                "name": p.full_name,
                "email": p.email,
                "probability": score.probability,
                "tier": score.tier,
                "expected_value": score.expected_value,
                "created_at": p.created_at,
            }
        )
    return out
