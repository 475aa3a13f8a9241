"""REST endpoints for feedback: questions heard, lead ratings and themes (same services as the pages)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from tandem.core.http import Id, NoNul, require_perm
from tandem.core.idempotency import idempotent
from tandem.core.jobs.api import DetailOut, JobAcceptedOut, job_accepted
from tandem.core.paging import PAGE_SIZE, CursorParam, LimitParam, page_dict
from tandem.feedback import selectors, services
from tandem.feedback.models import RatingReason
from tandem.users.access import access_check

router = Router(tags=["feedback"])


Text120 = Annotated[str, Field(max_length=120), NoNul]
Text2000 = Annotated[str, Field(max_length=2000), NoNul]


# ---- schemas ----


class ThemeRef(Schema):
    id: int
    label: str


class QuestionIn(Schema):
    text: Text2000
    product: Text120 = ""
    is_objection: bool = False
    activity_id: int | None = Field(default=None, ge=1)
    asked_at: dt.datetime | None = None


class QuestionOut(Schema):
    id: int
    person_id: int
    asked_at: dt.datetime
    text: str
    product: str
    is_objection: bool
    activity_id: int | None
    heard_by_id: int | None
    theme: ThemeRef | None


class RatingIn(Schema):
    rating: int = Field(ge=1, le=5)
    reasons: list[str] = Field(default_factory=list, max_length=len(RatingReason.values))
    note: Text2000 = ""


class RatingOut(Schema):
    id: int
    person_id: int
    rating: int
    reasons: list[str]
    note: str
    rated_by_id: int | None
    rated_at: dt.datetime


class ThemeOut(Schema):
    id: int
    label: str
    renamed: bool
    curated: bool
    question_count: int
    terms: list[str]
    examples: list[str]
    merged_into_id: int | None
    split_from_id: int | None
    retired_at: dt.datetime | None


class MineIn(Schema):
    k: int | None = Field(default=None, ge=2, le=40)


class RenameIn(Schema):
    label: Text120


class MergeIn(Schema):
    into_id: int = Field(ge=1)


class SplitIn(Schema):
    k: int = Field(default=2, ge=2, le=10)


# ---- questions and ratings ----


class QuestionPageOut(Schema):
    items: list[QuestionOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


@router.get("/people/{int:person_id}/questions", response=QuestionPageOut)
def questions_of_person(request: HttpRequest, person_id: Id, cursor: CursorParam = "", limit: LimitParam = PAGE_SIZE) -> Any:
    """A person's questions and objections, newest first, each with its theme, a keyset page at a time."""
    require_perm(request, "feedback.view_question", action="see questions")
    selectors.person_get(person_id=person_id, user=request.user)
    page = selectors.questions_page(person_id=person_id, user=request.user, cursor=cursor, limit=limit)
    return page_dict(page, lambda row: row)


@router.post("/people/{int:person_id}/questions", response={201: QuestionOut})
@idempotent
def question_create(request: HttpRequest, person_id: Id, payload: QuestionIn) -> Any:
    """Record a question or objection heard from a person (optionally a product and the activity); it is themed at once."""
    require_perm(request, "feedback.add_question", action="record questions")
    # Adding to a person's record is changing it: 404 out of sight, 403 when the user may only look.
    person = access_check(selectors.person_get(person_id=person_id, user=request.user), user=request.user, write=True)
    activity = (
        selectors.activity_get(activity_id=payload.activity_id, user=request.user) if payload.activity_id else None
    )
    question = services.question_record(
        person=person,
        text=payload.text,
        product=payload.product,
        is_objection=payload.is_objection,
        activity=activity,
        asked_at=payload.asked_at,
        by_user=request.user,
    )
    return Status(201, question)


class RatingPageOut(Schema):
    items: list[RatingOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


@router.get("/people/{int:person_id}/ratings", response=RatingPageOut)
def ratings_of_person(request: HttpRequest, person_id: Id, cursor: CursorParam = "", limit: LimitParam = PAGE_SIZE) -> Any:
    """A person's lead-quality ratings, newest (current) first, a keyset page at a time."""
    require_perm(request, "feedback.view_leadrating", action="see lead ratings")
    page = selectors.lead_ratings_page(person_id=person_id, user=request.user, cursor=cursor, limit=limit)
    return page_dict(page, lambda row: row)


@router.post("/people/{int:person_id}/ratings", response={201: RatingOut})
@idempotent
def rating_create(request: HttpRequest, person_id: Id, payload: RatingIn) -> Any:
    """Rate a lead's quality from 1 to 5 with reason codes (see /feedback/rating-reasons)."""
    require_perm(request, "feedback.add_leadrating", action="rate leads")
    person = access_check(selectors.person_get(person_id=person_id, user=request.user), user=request.user, write=True)
    row = services.lead_rating_record(
        person=person, rating=payload.rating, reasons=payload.reasons, note=payload.note, by_user=request.user
    )
    return Status(201, row)


@router.get("/feedback/rating-reasons", response=dict[str, str])
def rating_reasons(request: HttpRequest) -> Any:
    """The reason codes a lead rating may carry, with their labels."""
    return dict(RatingReason.choices)


# ---- themes ----


@router.get("/themes", response=list[ThemeOut])
def themes(request: HttpRequest) -> Any:
    """Live themes, largest first."""
    require_perm(request, "feedback.view_theme", action="see themes")
    return selectors.themes_live()


@router.get("/themes/overview")
def themes_overview(request: HttpRequest, since: dt.date | None = None) -> dict[str, Any]:
    """Themes with weekly trend, examples and share of questions that come with lost deals (Wilson 95 %, lift)."""
    require_perm(request, "feedback.view_theme", action="see themes")
    overview = selectors.themes_overview(since=since)
    overview.pop("figure")
    return overview


@router.get("/themes/report")
def themes_report(request: HttpRequest, since: dt.date | None = None) -> dict[str, Any]:
    """The `tandem report themes` document: themes (id, label, count, examples) and the theme of every question you
    may see (the counts are the company's)."""
    require_perm(request, "feedback.view_theme", action="see themes")
    return selectors.themes_report(since=since, user=request.user)


@router.get("/themes/{int:theme_id}", response=ThemeOut)
def theme(request: HttpRequest, theme_id: Id) -> Any:
    """One theme, live or retired (merged_into_id / retired_at say what became of it)."""
    require_perm(request, "feedback.view_theme", action="see themes")
    return selectors.theme_get(theme_id=theme_id)


@router.post(
    "/themes/mine",
    response={202: JobAcceptedOut, 401: DetailOut, 403: DetailOut, 409: DetailOut, 422: DetailOut},
    summary="Mine themes in the background",
)
def themes_mine(request: HttpRequest, response: HttpResponse, payload: MineIn) -> Any:
    """Group all questions into themes again, in the background: 202 with the job's `status_url` (also in
    `Location`). The finished job's `result` holds space_id, questions, assigned and the theme ids kept,
    created, updated and retired; named, merged and split themes keep their ids and names. 409 names the mining
    already queued or running; 422 when there are fewer than 3 questions."""
    require_perm(request, "feedback.change_theme", action="mine themes")
    return job_accepted(response, services.themes_mine_start(k=payload.k, by_user=request.user))


@router.post("/themes/{int:theme_id}/rename", response=ThemeOut)
def theme_rename(request: HttpRequest, theme_id: Id, payload: RenameIn) -> Any:
    """Name a theme; names are unique ignoring case and survive re-mining."""
    require_perm(request, "feedback.change_theme", action="rename themes")
    return services.theme_rename(
        theme=selectors.theme_get(theme_id=theme_id), label=payload.label, by_user=request.user
    )


@router.post("/themes/{int:theme_id}/merge", response=ThemeOut)
def theme_merge(request: HttpRequest, theme_id: Id, payload: MergeIn) -> Any:
    """Merge this theme into another: its questions move there and it is retired."""
    require_perm(request, "feedback.change_theme", action="merge themes")
    return services.themes_merge(
        theme=selectors.theme_get(theme_id=theme_id),
        into=selectors.theme_get(theme_id=payload.into_id),
        by_user=request.user,
    )


@router.post("/themes/{int:theme_id}/split", response=list[ThemeOut])
def theme_split(request: HttpRequest, theme_id: Id, payload: SplitIn) -> Any:
    """Split a theme's questions into k new themes, which replace it."""
    require_perm(request, "feedback.change_theme", action="split themes")
    return services.theme_split(
        theme=selectors.theme_get(theme_id=theme_id), k=payload.k, by_user=request.user
    )
