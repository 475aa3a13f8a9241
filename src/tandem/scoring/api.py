"""REST endpoints for scoring: model versions, training, a person's score and the rep's queue."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema

from tandem.core.errors import NotFound
from tandem.core.http import require_perm
from tandem.core.jobs.api import DetailOut, JobAcceptedOut, job_accepted
from tandem.core.paging import PAGE_SIZE, CursorParam, LimitParam, keyset_page, page_dict
from tandem.crm.models import Person
from tandem.scoring import selectors
from tandem.scoring.models import PersonScore
from tandem.scoring.services import (
    scoring_drift_measure,
    scoring_rules_update,
    scoring_train_start,
)
from tandem.users.access import access_seen
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


class ModelPageOut(Schema):
    items: list[ModelOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


@router.get("/scoring/models", response=ModelPageOut)
def models_list(request: HttpRequest, cursor: CursorParam = "", limit: LimitParam = PAGE_SIZE) -> dict[str, Any]:
    """Model versions, newest first, with their validation metrics and tiers, a keyset page at a time."""
    require_perm(request, allowed=_role(request) in VIEW_ROLES, message="Only admins, marketing and sales managers see scoring models.")
    page = keyset_page(queryset=selectors.scoring_models_list(), order="models-newest", field="created_at", cursor=cursor, limit=limit)
    return page_dict(page, lambda row: row)


class DriftOut(Schema):
    version: str
    drift: dict[str, Any]


@router.get("/scoring/drift", response={200: DriftOut, 404: DetailOut})
def drift(request: HttpRequest, measure: bool = False) -> dict[str, Any]:
    """The active model's drift: PSI per input and calibration since training (``measure=true`` recomputes)."""
    require_perm(request, allowed=_role(request) in VIEW_ROLES, message="Only admins, marketing and sales managers see scoring drift.")
    if measure:
        scoring_drift_measure()
    row = selectors.scoring_model_for_report()
    if row is None or row.status != "active":
        raise NotFound("No active scoring model.", field="model", value=None)
    return {"version": row.version, "drift": row.drift}


class RulesIn(Schema):
    fit: dict[str, Any]
    engagement: dict[str, Any]
    cutoff_days: float = 7.0


class RulesOut(Schema):
    version: int
    fit: dict[str, Any]
    engagement: dict[str, Any]
    cutoff_days: float


def _rules_out() -> dict[str, Any]:
    rules = selectors.scoring_rules_current()
    return {
        "version": rules.version,
        "fit": rules.fit.to_dict(),
        "engagement": rules.engagement.to_dict(),
        "cutoff_days": rules.cutoff_days,
    }


@router.get("/scoring/rules", response=RulesOut)
def rules_get(request: HttpRequest) -> dict[str, Any]:
    """The fit rules, grade minimums and engagement points in force (version 0: the defaults)."""
    require_perm(request, allowed=_role(request) in VIEW_ROLES, message="Only admins, marketing and sales managers see the scoring rules.")
    return _rules_out()


@router.put("/scoring/rules", response=RulesOut)
def rules_put(request: HttpRequest, payload: RulesIn) -> dict[str, Any]:
    """Save a new version of the rules (admins); everyone's fit grade and engagement are recomputed in the background."""
    require_perm(request, allowed=_role(request) == Role.ADMIN, message="Only admins edit the scoring rules.")
    scoring_rules_update(fit=payload.fit, engagement=payload.engagement, cutoff_days=payload.cutoff_days, by_user=request.user)
    return _rules_out()


@router.post(
    "/scoring/train",
    response={202: JobAcceptedOut, 401: DetailOut, 403: DetailOut, 409: DetailOut, 422: DetailOut},
    summary="Train a scoring model in the background",
)
def train(request: HttpRequest, response: HttpResponse, payload: TrainIn) -> Any:
    """Start training a model on closed outcomes (admins): 202 with the job's `status_url` (also in `Location`);
    GET it to follow the job. The model becomes active unless worse than naive Bayes, and then every open lead
    is rescored. 409 names the training already queued or running."""
    require_perm(request, allowed=_role(request) == Role.ADMIN, message="Only admins train scoring models.")
    job = scoring_train_start(horizon_days=payload.horizon_days, by_user=request.user)
    return job_accepted(response, job)


@router.get("/people/{int:person_id}/score", response=ScoreOut)
def person_score(request: HttpRequest, person_id: int) -> dict[str, Any]:
    """A person's latest score with its top factors (404 when not scored, or when the person is out of your sight)."""
    # Whose scores a user sees is the person's record-level access (tandem.users.access): a rep their own leads
    # (and their team's when the team's setting says so), a manager the team's; out of sight answers as missing.
    person = access_seen(Person.objects.only("id", "owner_id"), user=request.user).filter(pk=person_id).first()
    if person is None:
        raise NotFound("No such person.", field="person_id", value=person_id)
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
