"""Reads for feedback: a person's capture panel, themes with trends and lost deals, the report, lost reasons."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from tandem.core.erasure import rows_plain
from tandem.core.errors import NotFound
from tandem.core.paging import PAGE_SIZE, KeysetPage, keyset_page
from tandem.crm.models import Activity, Deal, DealStage, Person
from tandem.feedback import themes as mining
from tandem.feedback.models import LeadRating, Question, RatingReason, Theme
from tandem.users.access import access_seen

PANEL_QUESTIONS = 5
PANEL_ACTIVITIES = 5
THEME_QUESTIONS = 200
CURRENT_ACTIVITY = dt.timedelta(hours=2)
CHART_THEMES = 8  # lines on the trend chart; the table lists every theme


def _one(model: Any, pk: int, what: str, field: str, user: Any = None) -> Any:
    # A record out of the user's sight answers exactly as a missing one, so ids cannot be probed.
    row = access_seen(model.objects.all(), user=user).filter(pk=pk).first()
    if row is None:
        raise NotFound(f"there is no {what} {pk}", field=field, value=pk)
    return row


def person_get(*, person_id: int, user: Any = None) -> Person:
    """The person with this id (one `user` may see, when given; NotFound naming it otherwise)."""
    person: Person = _one(Person, person_id, "person", "person_id", user)
    return person


def activity_get(*, activity_id: int, user: Any = None) -> Activity:
    """The activity with this id (one `user` may see, when given; NotFound naming it otherwise)."""
    activity: Activity = _one(Activity, activity_id, "activity", "activity_id", user)
    return activity


def theme_get(*, theme_id: int) -> Theme:
    """The theme with this id, live or retired (NotFound naming it otherwise)."""
    theme: Theme = _one(Theme, theme_id, "theme", "theme_id")
    return theme


# ---- the person page's capture panel ----


@dataclass(frozen=True)
class PersonFeedback:
    """What the capture panel shows: recent questions with themes, the current rating, recent activities."""

    person: Person
    questions: list[Question]
    question_total: int
    rating: LeadRating | None
    activities: list[Activity]
    products: list[str]
    current_activity_id: int | None  # an activity logged in the last two hours: probably the call going on


def person_feedback(*, person_id: int, user: Any = None) -> PersonFeedback:
    """The person's recent questions (with theme), latest lead rating, recent activities and known products."""
    # Whoever may see the person sees its questions, ratings and activities (their access paths start at the
    # person's owner), so only the person is checked.
    person = person_get(person_id=person_id, user=user)
    questions = list(
        Question.objects.filter(person=person)
        .select_related("theme", "heard_by")
        .order_by("-asked_at", "-id")[:PANEL_QUESTIONS]
    )
    total = len(questions)
    if total == PANEL_QUESTIONS:
        total = Question.objects.filter(person=person).count()
    rating = (
        LeadRating.objects.filter(person=person)
        .select_related("rated_by")
        .order_by("-rated_at", "-id")
        .first()
    )
    activities = list(
        Activity.objects.filter(person=person).order_by("-occurred_at", "-id")[:PANEL_ACTIVITIES]
    )
    now = timezone.now()
    current = next(
        (a.pk for a in activities if now - CURRENT_ACTIVITY <= a.occurred_at <= now + CURRENT_ACTIVITY), None
    )
    return PersonFeedback(
        person=person,
        questions=questions,
        question_total=total,
        rating=rating,
        activities=activities,
        products=products_known(),
        current_activity_id=current,
    )


def products_known(*, limit: int = 50) -> list[str]:
    """Products reps have tagged questions with, most used first (suggestions for the product box)."""
    rows = (
        Question.objects.exclude(product="")
        .values("product")
        .annotate(n=Count("id"))
        .order_by("-n", "product")
        .values_list("product", flat=True)[:limit]
    )
    return list(rows)


def lead_ratings_for_person(*, person_id: int, user: Any = None, limit: int = 50) -> list[LeadRating]:
    """A person's lead-quality ratings, newest first (NotFound when `user` may not see the person)."""
    person_get(person_id=person_id, user=user)
    return list(
        LeadRating.objects.filter(person_id=person_id)
        .select_related("rated_by")
        .order_by("-rated_at", "-id")[:limit]
    )


def lead_ratings_page(*, person_id: int, user: Any = None, cursor: str = "", limit: int = PAGE_SIZE) -> KeysetPage:
    """A keyset page of a person's lead-quality ratings, newest (current) first (NotFound out of `user`'s sight)."""
    person_get(person_id=person_id, user=user)
    rows = LeadRating.objects.filter(person_id=person_id).select_related("rated_by")
    return keyset_page(queryset=rows, order="ratings-newest", field="rated_at", cursor=cursor, limit=limit)


def questions_page(*, person_id: int, user: Any = None, cursor: str = "", limit: int = PAGE_SIZE) -> KeysetPage:
    """A keyset page of a person's questions and objections, newest first, those `user` may see."""
    rows = access_seen(Question.objects.filter(person_id=person_id), user=user).select_related("person", "theme", "heard_by")
    return keyset_page(queryset=rows, order="questions-newest", field="asked_at", cursor=cursor, limit=limit)


def reason_labels(codes: list[str]) -> list[str]:
    """Readable labels for rating reason codes."""
    labels = dict(RatingReason.choices)
    return [labels.get(c, c) for c in codes]


def questions_list(
    *,
    person_id: int | None = None,
    theme_id: int | None = None,
    unthemed: bool = False,
    user: Any = None,
    limit: int = 200,
) -> list[Question]:
    """Questions newest first, optionally of one person or one theme (or without a theme), those `user` may see."""
    qs = access_seen(Question.objects.all(), user=user)
    qs = qs.select_related("person", "theme", "heard_by").order_by("-asked_at", "-id")
    if person_id is not None:
        qs = qs.filter(person_id=person_id)
    if theme_id is not None:
        qs = qs.filter(theme_id=theme_id)
    if unthemed:
        qs = qs.filter(theme__isnull=True)
    return list(qs[:limit])


# ---- themes ----


def _with_lost_flag(qs: QuerySet[Question]) -> QuerySet[Question]:
    # A question "comes with a lost deal" when its person, or the person's company, has a lost deal.
    lost = Deal.objects.filter(stage=DealStage.LOST)
    return qs.annotate(
        person_lost=Exists(lost.filter(person_id=OuterRef("person_id"))),
        account_lost=Exists(lost.filter(account_id=OuterRef("person__account_id"), account_id__isnull=False)),
    )


def _since_filter(qs: QuerySet[Question], since: dt.date | None) -> QuerySet[Question]:
    if since is None:
        return qs
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
    return qs.filter(asked_at__gte=start)


def themes_overview(*, since: dt.date | None = None) -> dict[str, Any]:
    """Live themes with counts, examples, weekly trend and lost-deal share (Wilson 95 %), plus the chart."""
    # Company numbers: counts, trends and shares are over every question whoever asks (record-level access
    # narrows lists of questions and people, not what a theme adds up to).
    themes = list(Theme.objects.filter(retired_at__isnull=True).order_by("-question_count", "id"))
    flagged = _with_lost_flag(_since_filter(Question.objects.all(), since))
    rows = list(flagged.values_list("theme_id", "asked_at", "person_lost", "account_lost"))  # type: ignore[misc]
    ids = [r[0] if r[0] is not None else mining.UNASSIGNED for r in rows]
    trends = mining.theme_trends([r[1] for r in rows], ids, week_start=since)
    losses = {x.theme_id: x for x in mining.theme_loss_association(ids, [bool(r[2] or r[3]) for r in rows])}
    series_row = {t: i for i, t in enumerate(trends.theme_ids)}
    out = []
    for theme in themes:
        loss = losses.get(theme.pk)
        trend = (
            trends.counts[series_row[theme.pk]].tolist()
            if theme.pk in series_row
            else [0] * len(trends.weeks)
        )
        out.append(
            {
                "id": theme.pk,
                "label": theme.label,
                "renamed": theme.renamed,
                "curated": theme.curated,
                "count": sum(trend),
                "terms": theme.terms,
                "examples": theme.examples,
                "trend": trend,
                "lost": loss.lost if loss else 0,
                "lost_share": loss.share if loss else None,
                "lost_low": loss.low if loss else None,
                "lost_high": loss.high if loss else None,
                "lift": loss.lift if loss else None,
            }
        )
    out.sort(key=lambda r: (-r["count"], r["id"]))
    other = losses.get(mining.UNASSIGNED)
    weeks = [w.isoformat() for w in trends.weeks]
    figure = {
        "data": [
            {"type": "scatter", "mode": "lines", "name": r["label"], "x": weeks, "y": r["trend"]}
            for r in out[:CHART_THEMES]
        ],
        "layout": {
            "height": 360,
            "yaxis": {"title": {"text": "questions per week"}},
            "xaxis": {"type": "date"},
        },
    }
    return {
        "themes": out,
        "weeks": weeks,
        "unassigned": other.items if other else 0,
        "questions": len(rows),
        "lost_overall": (sum(1 for r in rows if r[2] or r[3]) / len(rows)) if rows else None,
        "figure": figure,
        "mined": Theme.objects.exists(),
    }


def themes_live() -> list[Theme]:
    """Live themes, largest first."""
    return list(Theme.objects.filter(retired_at__isnull=True).order_by("-question_count", "id"))


def themes_report(*, since: dt.date | None = None, user: Any = None) -> dict[str, Any]:
    """The `report themes` document: live themes (count since the date) and every question's theme (of the
    questions `user` may see, when given: the counts stay the company's)."""
    everything = _since_filter(Question.objects.all(), since).order_by("asked_at", "id")
    seen = access_seen(everything, user=user)
    questions = list(seen.values_list("person__email", "asked_at", "text", "theme_id"))
    # The counts read every question: one more query only when the user sees fewer than all.
    theme_ids = [q[3] for q in questions] if seen is everything else list(everything.values_list("theme_id", flat=True))
    counts: dict[int, int] = {}
    for theme_id in theme_ids:
        if theme_id is not None:
            counts[theme_id] = counts.get(theme_id, 0) + 1
    themes = sorted(themes_live(), key=lambda t: (-counts.get(t.pk, 0), t.pk))
    return {
        "themes": [
            {"id": t.pk, "label": t.label, "count": counts.get(t.pk, 0), "examples": list(t.examples)}
            for t in themes
        ],
        "assignments": [
            {"email": email, "asked_at": asked_at.isoformat(), "text": text, "theme_id": theme_id}
            for email, asked_at, text, theme_id in questions
        ],
    }


def theme_detail(*, theme_id: int, user: Any = None) -> dict[str, Any]:
    """One theme: its row, what became of it (merged into, split into), and its latest questions (those `user`
    may see, when given: the theme's count stays the company's)."""
    theme = theme_get(theme_id=theme_id)
    everything = Question.objects.filter(theme=theme)
    seen = access_seen(everything, user=user)
    questions = list(seen.select_related("person", "heard_by").order_by("-asked_at", "-id")[:THEME_QUESTIONS])
    return {
        "theme": theme,
        "questions": questions,
        # True when the list holds only the questions of the user's own people (their team's, for a manager).
        "narrowed": seen is not everything,
        "merged_into": theme.merged_into,
        "split_into": list(theme.split_into.all()) if theme.retired_at else [],
        "others": [t for t in themes_live() if t.pk != theme.pk],
    }


HISTORY_LIMIT = 100


def person_questions_heard(*, person: Any) -> list[Question]:
    """The questions heard from a person, newest first, with who heard each (the person page)."""
    return list(
        Question.objects.filter(person=person).select_related("heard_by").order_by("-asked_at", "-id")[:HISTORY_LIMIT]
    )


# ---- personal data (tandem.privacy): what feedback holds about one person ----


def questions_export_person(*, person_id: int) -> list[dict[str, Any]]:
    """Every question heard from one person, oldest first, as plain values (the per-person export)."""
    return rows_plain(
        Question.objects.filter(person_id=person_id)
        .order_by("asked_at", "id")
        .values(
            "id", "asked_at", "text", "product", "heard_by_id", "is_objection", "activity_id", "theme_id",
            "theme__label", "custom_fields", "created_at",
        )
    )


def lead_ratings_export_person(*, person_id: int) -> list[dict[str, Any]]:
    """Every rating of one person as a lead, oldest first, as plain values (the per-person export)."""
    return rows_plain(
        LeadRating.objects.filter(person_id=person_id)
        .order_by("rated_at", "id")
        .values("id", "rating", "reasons", "note", "rated_by_id", "rated_at", "created_at")
    )
