"""Writes for feedback: questions heard, lead ratings, lost reasons, and mining, naming, merging, splitting themes."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from django.db import transaction
from django.db.models import Count, F
from django.db.models import Model as _Model
from django.utils import timezone

from tandem.core.bulk import chunked
from tandem.core.erasure import rows_mentioning, rows_redact
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import PERSONAL_KEYS, event_record
from tandem.core.jobs.services import job_create, job_execute, job_progress
from tandem.core.models import Job
from tandem.core.outbox import task_enqueue_on_commit
from tandem.core.redact import json_redact, text_redact
from tandem.core.text import text_clean
from tandem.crm.models import Activity, Person
from tandem.feedback import themes as mining
from tandem.feedback.models import LeadRating, Question, RatingReason, Theme, ThemeSpace
from tandem.webhooks.services import webhook_emit

QUESTION_MAX = 2000
PRODUCT_MAX = 120
NOTE_MAX = 2000
CHUNK = 500  # ids per UPDATE ... WHERE id IN (...): well under SQLite's variable limit
# A mined theme whose questions are mostly in one curated theme is that theme, found again.
ABSORB_SHARE = 0.5
# A mined theme takes over the id of the old uncurated theme it shares most questions with (Jaccard).
MATCH_JACCARD = 0.5


# ---- questions and objections ----


def question_record(
    *,
    person: Person,
    text: str,
    product: str = "",
    is_objection: bool = False,
    activity: Activity | None = None,
    asked_at: dt.datetime | None = None,
    by_user: Any = None,
) -> Question:
    """Record a question or objection a rep heard from a person; it joins the nearest named theme."""
    text = text_clean(text, field="text", max_length=QUESTION_MAX, required=True)
    product = " ".join(text_clean(product, field="product", max_length=PRODUCT_MAX, required=False).split())
    if activity is not None and activity.person_id != person.pk:
        raise ValidationFailed(
            f"activity {activity.pk} belongs to another person", field="activity_id", value=activity.pk
        )
    with transaction.atomic():
        question = Question.objects.create(
            person=person,
            text=text,
            product=product,
            is_objection=bool(is_objection),
            activity=activity,
            asked_at=asked_at or timezone.now(),
            heard_by=by_user if getattr(by_user, "pk", None) else None,
        )
        theme_id = _assign_texts([text])[0] if _current_space() else None
        if theme_id is not None:
            question.theme_id = theme_id
            question.save(update_fields=["theme"])
            Theme.objects.filter(pk=theme_id).update(question_count=F("question_count") + 1)
        event_record(
            kind="question.recorded",
            subject=question,
            actor=by_user,
            data={
                "person_id": person.pk,
                "theme_id": theme_id,
                "is_objection": question.is_objection,
                "product": product,
                "activity_id": activity.pk if activity else None,
            },
        )
        data = {"question_id": question.pk, "text": text, "person_id": person.pk, "theme_id": theme_id, "heard_at": question.asked_at}
        webhook_emit(event_type="question.recorded", data=data)
    return question


# ---- lead quality ratings ----


def lead_rating_record(
    *,
    person: Person,
    rating: int,
    reasons: Sequence[str] = (),
    note: str = "",
    rated_at: dt.datetime | None = None,
    by_user: Any = None,
) -> LeadRating:
    """Rate a lead's quality 1–5 with reason codes; the newest rating of a person is the current one."""
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ValidationFailed(
            f"rating must be a whole number from 1 to 5, got {rating!r}", field="rating", value=rating
        )
    if isinstance(reasons, str) or not isinstance(reasons, Sequence):
        raise ValidationFailed(
            "reasons must be a list of reason codes", field="reasons", value=repr(reasons)[:80]
        )
    known = set(RatingReason.values)
    for code in reasons:
        if code not in known:
            raise ValidationFailed(
                f"unknown reason code {code!r}; known: {', '.join(RatingReason.values)}",
                field="reasons",
                value=code,
            )
    note = text_clean(note, field="note", max_length=NOTE_MAX, required=False)
    with transaction.atomic():
        row = LeadRating.objects.create(
            person=person,
            rating=rating,
            reasons=list(dict.fromkeys(reasons)),
            note=note,
            rated_at=rated_at or timezone.now(),
            rated_by=by_user if getattr(by_user, "pk", None) else None,
        )
        event_record(
            kind="lead.rated",
            subject=person,
            actor=by_user,
            reason=note,
            data={"rating_id": row.pk, "rating": rating, "reasons": row.reasons},
        )
    return row


# ---- themes: the stored model ----

_MODEL_CACHE: dict[str, Any] = {}


def _current_space() -> ThemeSpace | None:
    return ThemeSpace.objects.only("pk", "updated_at").order_by("-id").first()


def theme_model_current() -> tuple[ThemeSpace, mining.ThemeModel] | None:
    """The current theme space and its fitted model (parsed once per revision), or None before any mining."""
    space = _current_space()
    if space is None:
        return None
    key = (space.pk, space.updated_at)
    if _MODEL_CACHE.get("key") != key:
        data = ThemeSpace.objects.filter(pk=space.pk).values_list("model", flat=True).get()
        _MODEL_CACHE.clear()
        _MODEL_CACHE.update(key=key, model=mining.ThemeModel.from_dict(data))
    return space, _MODEL_CACHE["model"]


def _assign_texts(texts: Sequence[str]) -> list[int | None]:
    current = theme_model_current()
    if current is None or not texts:
        return [None] * len(texts)
    ids = mining.themes_assign(current[1], list(texts))
    return [int(i) if i != mining.UNASSIGNED else None for i in ids]


def _model_save(space: ThemeSpace, model: mining.ThemeModel) -> None:
    space.model = model.to_dict()
    space.save(update_fields=["model", "updated_at"])


def _theme_rows_sync(model: mining.ThemeModel, space: ThemeSpace) -> None:
    """Copy label, terms, examples and centroid of every theme of the model to its row."""
    rows = Theme.objects.in_bulk([t.id for t in model.themes])
    for t in model.themes:
        row = rows[t.id]
        row.label = t.label
        row.renamed = t.renamed
        row.terms = list(t.terms)
        row.examples = list(t.examples)
        row.centroid = [round(float(v), 8) for v in t.centroid]
        row.space = space
    Theme.objects.bulk_update(rows.values(), ["label", "renamed", "terms", "examples", "centroid", "space"])


def _counts_refresh(theme_ids: Iterable[int] | None = None) -> None:
    """Recount questions per live theme (all, or the given ones)."""
    live = Theme.objects.filter(retired_at__isnull=True)
    if theme_ids is not None:
        live = live.filter(pk__in=list(theme_ids))
    counts = Counter(
        dict(
            Question.objects.filter(theme__in=live)
            .values("theme_id")
            .annotate(n=Count("id"))
            .values_list("theme_id", "n")
        )
    )
    rows = list(live)
    for row in rows:
        row.question_count = counts.get(row.pk, 0)
    Theme.objects.bulk_update(rows, ["question_count"])


def _questions_set_theme(assignments: dict[int, int | None]) -> None:
    by_theme: dict[int | None, list[int]] = defaultdict(list)
    for question_id, theme_id in assignments.items():
        by_theme[theme_id].append(question_id)
    for theme_id, ids in by_theme.items():
        ids.sort()
        for start in range(0, len(ids), CHUNK):
            Question.objects.filter(pk__in=ids[start : start + CHUNK]).update(theme_id=theme_id)


def _links_carry(source: Theme, targets: Sequence[Theme]) -> int:
    """Content linked to a theme that goes away follows its questions (enablement's assets answer themes)."""
    related = getattr(source, "assets", None)  # the reverse side of enablement's Asset.themes, when installed
    if related is None:
        return 0
    linked = list(related.all())
    for target in targets:
        target.assets.add(*linked)  # type: ignore[attr-defined]
    return len(linked)


def _live_theme(theme: Theme) -> None:
    if theme.retired_at is not None:
        where = f" into theme {theme.merged_into_id}" if theme.merged_into_id else ""
        raise NotAllowed(f"theme {theme.pk} was retired{where}", field="theme_id", value=theme.pk)


# ---- themes: mining ----


@dataclass(frozen=True)
class MiningResult:
    """What a mining run did: the new space, themes kept, created, updated and retired, questions grouped."""

    space_id: int
    questions: int
    assigned: int
    kept: list[int]
    created: list[int]
    updated: list[int]
    retired: list[int]


def _mining_refuse_few(count: int) -> None:
    if count < 3:
        raise ValidationFailed(
            f"theme mining needs at least 3 questions, there are {count}", field="questions", value=count
        )


def themes_mine(
    *, k: int | None = None, seed: int = 0, by_user: Any = None, progress: Callable[[int, str], None] | None = None
) -> MiningResult:
    """Group all questions into themes; curated themes keep their id and name, matching ones keep their id."""
    step = progress or (lambda _done, _message: None)
    step(0, "Reading the questions")
    rows = list(Question.objects.order_by("id").values_list("id", "text", "theme_id"))
    _mining_refuse_few(len(rows))
    texts = [r[1] for r in rows]
    step(1, f"Finding themes in {len(rows):,} questions")
    fresh = mining.themes_discover(texts, k=k, seed=seed)
    step(2, "Placing the questions in themes")
    clusters = mining.themes_assign(fresh, texts)
    live = {t.pk: t for t in Theme.objects.filter(retired_at__isnull=True)}
    old_members: dict[int, set[int]] = defaultdict(set)
    for i, r in enumerate(rows):
        if r[2] in live:
            old_members[r[2]].add(i)
    cluster_members: dict[int, set[int]] = defaultdict(set)
    for i, c in enumerate(clusters.tolist()):
        if c != mining.UNASSIGNED:
            cluster_members[c].add(i)

    step(3, "Saving the themes")
    with transaction.atomic():
        now = timezone.now()
        space = ThemeSpace.objects.create(model={}, question_count=len(rows), created_by=_user(by_user))
        themes: list[mining.Theme] = []
        kept: list[int] = []
        absorbed: set[int] = set()
        for row in sorted((t for t in live.values() if t.curated), key=lambda t: t.pk):
            members = sorted(old_members.get(row.pk, ()))
            if not members:
                continue  # nothing left to place it in the new space; it stays in the list, empty
            themes.append(
                mining.theme_from_texts(
                    fresh, row.pk, [texts[i] for i in members], label=row.label, renamed=row.renamed
                )
            )
            kept.append(row.pk)
            for c, cm in cluster_members.items():
                if len(cm & set(members)) > ABSORB_SHARE * len(cm):
                    absorbed.add(c)
        # Match the remaining mined themes to the uncurated live ones, best overlap first, so ids survive.
        open_old = {pk: old_members.get(pk, set()) for pk, t in live.items() if not t.curated}
        candidates = []
        for c, cm in cluster_members.items():
            if c in absorbed:
                continue
            for pk, om in open_old.items():
                if om:
                    jaccard = len(cm & om) / len(cm | om)
                    if jaccard >= MATCH_JACCARD:
                        candidates.append((-jaccard, c, pk))
        matched: dict[int, int] = {}
        for _, c, pk in sorted(candidates):
            if c not in matched and pk not in matched.values():
                matched[c] = pk
        created: list[int] = []
        for mined in fresh.themes:
            if mined.id in absorbed:
                continue
            old_pk = matched.get(mined.id)
            if old_pk is None:
                old_pk = Theme.objects.create(label=f"new theme {mined.id}", space=space).pk
                created.append(old_pk)
            themes.append(replace(mined, id=old_pk))
        model = mining.themes_relabel(
            replace(
                fresh,
                themes=tuple(themes),
                next_id=max([t.id for t in themes], default=0) + 1,
                _index=fresh._index,
            )
        )
        ids = mining.themes_assign(model, texts) if model.themes else np.full(len(texts), mining.UNASSIGNED)
        assignment = {
            r[0]: (int(t) if t != mining.UNASSIGNED else None)
            for r, t in zip(rows, ids.tolist(), strict=True)
        }
        counts = Counter(assignment.values())
        model = replace(
            model,
            themes=tuple(replace(t, count=counts.get(t.id, 0)) for t in model.themes),
            _index=model._index,
        )
        _questions_set_theme(assignment)
        _model_save(space, model)
        _theme_rows_sync(model, space)
        in_model = {t.id for t in model.themes}
        retired = sorted(pk for pk, t in live.items() if pk not in in_model and not t.curated)
        Theme.objects.filter(pk__in=retired).update(retired_at=now, question_count=0)
        _counts_refresh()
        updated = sorted(matched.values())
        for pk in created:
            event_record(
                kind="theme.created",
                subject_type="feedback.theme",
                subject_id=pk,
                actor=by_user,
                data={"space_id": space.pk},
            )
        for pk in retired:
            event_record(
                kind="theme.retired",
                subject_type="feedback.theme",
                subject_id=pk,
                actor=by_user,
                reason="not found again by re-mining",
            )
        event_record(
            kind="themes.mined",
            subject=space,
            actor=by_user,
            data={
                "questions": len(rows),
                "themes": len(model.themes),
                "kept": kept,
                "created": created,
                "updated": updated,
                "retired": retired,
            },
        )
        webhook_emit(event_type="theme.changed", data={"change": "mined", "theme_ids": sorted(in_model), "label": None})
    return MiningResult(
        space_id=space.pk,
        questions=len(rows),
        assigned=sum(1 for v in assignment.values() if v is not None),
        kept=kept,
        created=created,
        updated=updated,
        retired=retired,
    )


MINE_JOB = "feedback.themes_mine"
MINE_STEPS = 4


def themes_mine_start(*, k: int | None = None, by_user: Any = None) -> Job:
    """Start theme mining as a background job; refused (409, naming it) while another mining is queued or running."""
    if k is not None and not 2 <= k <= 40:
        raise ValidationFailed("k must lie between 2 and 40.", field="k", value=k)
    # Refused before any job exists when there is nothing to mine: a 422 now, not a failed job later.
    _mining_refuse_few(Question.objects.count())
    from tandem.feedback.tasks import themes_mine_task

    with transaction.atomic():
        job = job_create(
            kind=MINE_JOB, label="Theme mining", by_user=by_user, params={"k": k}, exclusive=True, total=MINE_STEPS
        )
        task_enqueue_on_commit(task=themes_mine_task, args=[job.pk])
    return job


def themes_mine_job_run(*, job_id: int) -> Job | None:
    """Run a queued theme-mining job and record what it did (the page's sentence in `summary`)."""

    def work(job: Job) -> dict[str, Any]:
        def step(done: int, message: str) -> None:
            job_progress(job=job, done=done, message=message)

        result = themes_mine(k=job.params.get("k"), by_user=job.requested_by, progress=step)
        summary = (
            f"Grouped {result.questions} questions: {len(result.kept)} named themes kept, "
            f"{len(result.updated)} updated, {len(result.created)} new, {len(result.retired)} retired."
        )
        return {**asdict(result), "summary": summary}

    return job_execute(job_id=job_id, work=work)


def _user(by_user: Any) -> Any:
    return by_user if getattr(by_user, "pk", None) else None


def questions_assign_unthemed(*, limit: int = 20000) -> int:
    """Put questions without a theme into the nearest named theme (periodic catch-up after imports)."""
    if _current_space() is None:
        return 0
    rows = list(Question.objects.filter(theme__isnull=True).order_by("id").values_list("id", "text")[:limit])
    if not rows:
        return 0
    ids = _assign_texts([r[1] for r in rows])
    assignment = {r[0]: t for r, t in zip(rows, ids, strict=True) if t is not None}
    if not assignment:
        return 0
    with transaction.atomic():
        live = set(
            Theme.objects.filter(pk__in=set(assignment.values()), retired_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
        assignment = {q: t for q, t in assignment.items() if t in live}
        _questions_set_theme(dict(assignment))
        _counts_refresh(set(assignment.values()))
        if assignment:
            event_record(
                kind="questions.themed",
                subject_type="feedback.question",
                data={
                    "questions": len(assignment),
                    "themes": dict(Counter(str(t) for t in assignment.values())),
                },
            )
    return len(assignment)


# ---- themes: what marketing does by hand ----


def _model_for(theme: Theme) -> tuple[ThemeSpace, mining.ThemeModel]:
    _live_theme(theme)
    current = theme_model_current()
    if current is None or theme.pk not in current[1].ids:
        raise NotAllowed(
            f"theme {theme.pk} is not in the current theme mining; mine themes again first",
            field="theme_id",
            value=theme.pk,
        )
    return current


def theme_rename(*, theme: Theme, label: str, by_user: Any = None) -> Theme:
    """Give a theme a person's name; mining never overwrites it and re-mining keeps the theme."""
    with transaction.atomic():
        space, model = _model_for(theme)
        old = theme.label
        model = mining.theme_rename(model, theme.pk, label)
        new = model.theme(theme.pk).label
        _model_save(space, model)
        theme.label, theme.renamed, theme.curated = new, True, True
        theme.save(update_fields=["label", "renamed", "curated", "updated_at"])
        event_record(kind="theme.renamed", subject=theme, actor=by_user, data={"from": old, "to": new})
        webhook_emit(event_type="theme.changed", data={"change": "renamed", "theme_ids": [theme.pk], "label": new})
    return theme


def themes_merge(*, theme: Theme, into: Theme, by_user: Any = None) -> Theme:
    """Fold one theme into another: its questions move, the other keeps its id and name."""
    if theme.pk == into.pk:
        raise ValidationFailed("a theme cannot be merged into itself", field="into_id", value=into.pk)
    with transaction.atomic():
        space, model = _model_for(theme)
        _model_for(into)
        model = mining.themes_merge(model, into.pk, theme.pk)
        _model_save(space, model)
        moved = Question.objects.filter(theme=theme).update(theme=into)
        _links_carry(theme, [into])
        theme.retired_at = timezone.now()
        theme.merged_into = into
        theme.question_count = 0
        theme.save(update_fields=["retired_at", "merged_into", "question_count", "updated_at"])
        into.curated = True
        into.save(update_fields=["curated", "updated_at"])
        _theme_rows_sync(model, space)
        _counts_refresh([into.pk])
        into.refresh_from_db()
        event_record(
            kind="theme.merged",
            subject=theme,
            actor=by_user,
            data={
                "into_id": into.pk,
                "label": theme.label,
                "into_label": into.label,
                "questions_moved": moved,
            },
        )
        webhook_emit(event_type="theme.changed", data={"change": "merged", "theme_ids": [theme.pk, into.pk], "label": into.label})
    return into


def theme_split(*, theme: Theme, k: int = 2, by_user: Any = None) -> list[Theme]:
    """Regroup one theme's questions into k new themes, which replace it (the old one is retired)."""
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= 10:
        raise ValidationFailed(f"k must be a whole number from 2 to 10, got {k!r}", field="k", value=k)
    with transaction.atomic():
        space, model = _model_for(theme)
        rows = list(Question.objects.filter(theme=theme).order_by("id").values_list("id", "text"))
        if len(rows) < k:
            raise ValidationFailed(
                f"theme {theme.pk} has {len(rows)} questions; cannot split it into {k}", field="k", value=k
            )
        texts = [r[1] for r in rows]
        before = set(model.ids)
        model = mining.theme_split(
            replace(model, next_id=max(before) + 1, _index=model._index), theme.pk, texts, k=k
        )
        parts = [t for t in model.themes if t.id not in before]
        new_rows = [
            Theme.objects.create(
                label=f"part {i + 1} of {theme.label}"[:120], split_from=theme, curated=True, space=space
            )
            for i in range(len(parts))
        ]
        remap = {p.id: row.pk for p, row in zip(parts, new_rows, strict=True)}
        model = replace(
            model,
            themes=tuple(replace(t, id=remap.get(t.id, t.id)) for t in model.themes),
            _index=model._index,
        )
        # Each question goes to the nearest new part, so none leaves the theme it was in for another one.
        centroids = np.vstack([t.centroid for t in model.themes if t.id in remap.values()])
        part_ids = [t.id for t in model.themes if t.id in remap.values()]
        nearest = (model.embed(texts) @ centroids.T).argmax(axis=1)
        _questions_set_theme({r[0]: part_ids[int(n)] for r, n in zip(rows, nearest.tolist(), strict=True)})
        counts = Counter(part_ids[int(n)] for n in nearest.tolist())
        model = replace(
            model,
            themes=tuple(replace(t, count=counts[t.id]) if t.id in counts else t for t in model.themes),
            _index=model._index,
        )
        _model_save(space, model)
        _theme_rows_sync(model, space)
        theme.retired_at = timezone.now()
        theme.question_count = 0
        theme.save(update_fields=["retired_at", "question_count", "updated_at"])
        _counts_refresh(part_ids)
        _links_carry(theme, new_rows)
        for row in new_rows:
            row.refresh_from_db()
            event_record(
                kind="theme.created",
                subject=row,
                actor=by_user,
                data={"split_from": theme.pk, "label": row.label},
            )
        event_record(
            kind="theme.split",
            subject=theme,
            actor=by_user,
            data={"into": part_ids, "k": k, "label": theme.label},
        )
        webhook_emit(event_type="theme.changed", data={"change": "split", "theme_ids": [theme.pk, *part_ids], "label": theme.label})
    return new_rows


def questions_heard_by_set_bulk(*, person_ids: Sequence[int], heard_by: Any) -> int:
    """Credit the questions of these people to the user who heard them (loaders), one UPDATE per chunk."""
    changed = 0
    for chunk in chunked(sorted(person_ids)):
        changed += Question.objects.filter(person_id__in=chunk).update(heard_by=heard_by)
    return changed


# ---- personal data (tandem.privacy): erasing one person from what sales heard ----


def questions_erase_person(*, person_id: int, needles: Collection[str], wide_needles: Collection[str]) -> dict[str, int]:
    """Keep a person's questions (what was asked counts in themes and gaps) with their names, e-mails and phone
    taken out of the text, wherever a theme quotes it too; their ratings keep the score and reasons, not the note."""
    own = Question.objects.filter(person_id=person_id)
    before = {pk: text for pk, text in own.values_list("pk", "text")}
    questions = rows_redact(rows=own, needles=needles, text=["text"], json=["custom_fields"], keys=PERSONAL_KEYS)
    after = {pk: text for pk, text in Question.objects.filter(pk__in=list(before)).values_list("pk", "text")}
    quoted = {before[pk]: after[pk] for pk in before if before[pk] != after[pk]}
    # Themes quote questions as examples: the quotes of these questions change with them; any theme naming the
    # person (by e-mail, full name or phone) has that taken out.
    themes: list[Theme] = []
    for theme in Theme.objects.only("pk", "label", "terms", "examples"):
        examples = [quoted.get(e, e) if isinstance(e, str) else e for e in theme.examples or []]
        label = text_redact(theme.label, needles=wide_needles)
        terms = json_redact(theme.terms, needles=wide_needles)
        examples = json_redact(examples, needles=wide_needles)
        if (label, terms, examples) != (theme.label, theme.terms, theme.examples):
            theme.label, theme.terms, theme.examples = label, terms, examples
            themes.append(theme)
    Theme.objects.bulk_update(themes, ["label", "terms", "examples"], batch_size=500)
    others = rows_redact(
        rows=rows_mentioning(rows=Question.objects.exclude(person_id=person_id), needles=wide_needles, text=["text"]),
        needles=wide_needles,
        text=["text"],
    )
    ratings = rows_redact(rows=LeadRating.objects.filter(person_id=person_id), needles=needles, blank={"note": ""})
    return {"questions": questions, "questions_mentioning": others, "themes": len(themes), "lead_ratings": ratings}


def feedback_restore_bulk(
    *, model: type[_Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], replace: bool = False
) -> int:
    """Insert a backup's rows of one of this app's tables as they are, ids included (the bundle restore)."""
    from tandem.core.bulk import rows_restore

    return rows_restore(owner="feedback", model=model, columns=columns, rows=rows, replace=replace)
