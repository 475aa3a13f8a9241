"""Reads of audiences: the spec compiled to one database query, counts, member pages, export rows.

Every audience is ONE query on people: the criteria become a Q tree (joins on forward keys and the score's
one-to-one row, EXISTS subqueries for questions and touchpoints), so counting or listing a million people never
brings a row into Python that is not shown. Personas are chosen by rules in priority order
(enablement/matching.py); "persona is P" compiles P's rules and "and none of the personas before it".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, Lower, Trim
from django.db.models.lookups import Exact, In
from django.utils import timezone

from tandem.audiences.exports import EXPORT_FORMATS  # re-exported: the export formats live in a light module
from tandem.audiences.models import Audience, AudienceMember, AudienceVersion
from tandem.audiences.spec import AudienceSpec, Criterion, spec_describe, spec_parse
from tandem.campaigns.models import Campaign, Touchpoint
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.keyset import MAX_ID, Cursor, cursor_decode, cursor_encode
from tandem.crm.models import Person
from tandem.enablement.matching import RuleSet, rules_parse
from tandem.enablement.models import Persona
from tandem.feedback.models import Question, Theme
from tandem.lifecycle.criteria import ConsentRequired, FieldIn, GradeCompare, NumberCompare, TitleKeywords
from tandem.users.access import access_seen
from tandem.users.models import User

PAGE_SIZE = 50
PAGE_MAX = 500
ORDER = "person"

# ---- compiling a spec ----

# The facts persona rules read (lifecycle.services.people_facts) and where each lives on a person row.
TEXT_FACTS: dict[str, str] = {
    "job_title": "job_title",
    "industry": "account__industry",
    "size_band": "account__size_band",
    "country": "account__country",
    "lifecycle_stage": "lifecycle_stage",
    "fit_grade": "score__fit_grade",
}
NUMBER_FACTS: dict[str, str] = {
    "engagement_score": "score__engagement",
    "predictive_probability": "score__probability",
    "account_owner_id": "account__owner_id",
}
SEGMENT_COLUMNS: dict[str, str] = {
    "industry": "account__industry",
    "size_band": "account__size_band",
    "country": "account__country",
    "job_title": "job_title",
    "channel": "original_channel",
    "campaign": "original_campaign__name",
}
NOBODY = Q(pk__in=[])


def _text_of(fact: str) -> Any:
    """The expression holding a text fact: a column, or a custom field of the person ("account.x": of the account)."""
    if fact in TEXT_FACTS:
        return F(TEXT_FACTS[fact])
    if fact.startswith("account."):
        return KeyTextTransform(fact.removeprefix("account."), "account__custom_fields")
    return KeyTextTransform(fact, "custom_fields")


def _text(expression: Any) -> Any:
    # Never NULL: a missing account, score or custom field reads as "", so a negated criterion stays true or
    # false (SQL's NOT NULL is NULL, which would hide people without an account from "none of the personas before").
    return Coalesce(Trim(expression), Value(""))


def _present(expression: Any) -> Q:
    # As criteria.is_missing: NULL or blank text is not known, and never satisfies a criterion, not even "not in".
    return ~Q(Exact(_text(expression), ""))


def _words_pattern(words: Sequence[str]) -> str:
    """A case-insensitive regular expression for whole words, as TitleKeywords means them, in this database's dialect."""
    body = "|".join(re.escape(w.casefold()) for w in words)
    if connection.vendor == "postgresql":
        # PostgreSQL's regular expressions have no look-behind: a delimiter or the text's end on either side.
        return rf"(^|[^[:alnum:]])({body})($|[^[:alnum:]])"
    # SQLite's REGEXP is Python's re (Django registers it): the exact pattern TitleKeywords uses.
    return rf"(?<![^\W_])(?:{body})(?![^\W_])"


def _profile_q(criterion: Any, persona: str) -> Q:
    """A persona rule's criterion as a filter on people, meaning exactly what criteria.value_holds means."""
    if isinstance(criterion, ConsentRequired):
        return Q(**{criterion.field: True})
    if isinstance(criterion, GradeCompare):
        return Q(score__fit_grade__in=list(criterion.allowed))
    if isinstance(criterion, FieldIn):
        expression = _text_of(criterion.field)
        wanted = sorted({v.strip().casefold() for v in criterion.values})
        inside = Q(In(Lower(_text(expression)), wanted))
        return _present(expression) & (~inside if criterion.negate else inside)
    if isinstance(criterion, TitleKeywords):
        if criterion.field not in TEXT_FACTS:
            raise ValidationFailed(
                f"persona {persona!r} matches keywords in custom field {criterion.field!r}, which audiences cannot "
                "read in the database; use its job title or a list of values",
                field="persona_ids",
                value=persona,
            )
        column = TEXT_FACTS[criterion.field]
        hit = Q(**{f"{column}__iregex": _words_pattern(criterion.keywords)})
        if criterion.exclude:
            hit &= ~Q(**{f"{column}__iregex": _words_pattern(criterion.exclude)})
        return _present(F(column)) & hit
    if isinstance(criterion, NumberCompare) and criterion.field in NUMBER_FACTS:
        column = NUMBER_FACTS[criterion.field]
        if criterion.op == ">=":
            return Q(**{f"{column}__gte": criterion.value})
        if criterion.op == "<=":
            return Q(**{f"{column}__lte": criterion.value})
        return Q(**{f"{column}__gte": criterion.low, f"{column}__lte": criterion.high})
    field = getattr(criterion, "field", "")
    raise ValidationFailed(
        f"persona {persona!r} compares {field!r} as a number, which audiences cannot read in the database",
        field="persona_ids",
        value=persona,
    )


def _rules_q(rules: RuleSet, persona: str) -> Q:
    if not rules.criteria:
        return NOBODY  # a persona without criteria matches nobody (enablement/matching.py)
    q = Q()
    for criterion in rules.all_of:
        q &= _profile_q(criterion, persona)
    if rules.any_of:
        some = NOBODY
        for criterion in rules.any_of:
            some |= _profile_q(criterion, persona)
        q &= some
    return q


def _persona_qs(persona_ids: set[int]) -> dict[int, Q]:
    """For each asked persona, who has it: its rules hold and those of no persona before it (one query)."""
    personas = sorted(
        Persona.objects.filter(is_active=True), key=lambda p: (p.priority, p.name.casefold(), p.pk)
    )
    out: dict[int, Q] = {}
    before = NOBODY
    for persona in personas:
        try:
            rules = rules_parse(persona.rules)
        except (
            ValidationFailed
        ):  # stored by an older version and no longer parsing: matches nobody, as on its page
            rules = RuleSet()
        own = _rules_q(rules, persona.name)
        if persona.pk in persona_ids:
            out[persona.pk] = own & ~before
        if len(out) == len(persona_ids):
            break
        before = before | own
    # An inactive (or deleted) persona is nobody's.
    return {pid: out.get(pid, NOBODY) for pid in persona_ids}


def _criterion_q(criterion: Criterion, now: dt.datetime, personas: Mapping[int, Q]) -> Q:
    kind, values = criterion.type, list(criterion.values)
    if kind == "stage":
        return Q(lifecycle_stage__in=values)
    if kind == "score_tier":
        return Q(score__tier__in=values)
    if kind == "fit_grade":
        return Q(score__fit_grade__in=values)
    if kind == "owner":
        return Q(owner_id__in=values)
    if kind == "persona":
        q = NOBODY
        for pid in values:
            q |= personas[pid]
        return q
    if kind == "segment":
        column = SEGMENT_COLUMNS[criterion.field]
        wanted = sorted({v.casefold() for v in values})
        return Q(In(Lower(_text(F(column))), wanted))
    since = None if criterion.days is None else now - dt.timedelta(days=criterion.days)
    if kind == "theme":
        asked = Question.objects.filter(person_id=OuterRef("pk"), theme_id__in=values)
        if since is not None:
            asked = asked.filter(asked_at__gte=since, asked_at__lte=now)
        return Q(Exists(asked))
    touched = Touchpoint.objects.filter(person_id=OuterRef("pk"), campaign_id__in=values)
    if since is not None:
        touched = touched.filter(occurred_at__gte=since, occurred_at__lte=now)
    return Q(Exists(touched))


def spec_q(spec: AudienceSpec, *, now: dt.datetime | None = None) -> Q:
    """The criteria (without consent) as one filter on people; reads the personas when the spec names some."""
    now = now or timezone.now()
    persona_ids = spec.ids("persona")
    personas = _persona_qs(persona_ids) if persona_ids else {}
    parts = [_criterion_q(c, now, personas) for c in spec.criteria]
    if not parts:
        return Q()
    q = parts[0]
    for part in parts[1:]:
        q = (q & part) if spec.match == "all" else (q | part)
    return q


def consent_q(spec: AudienceSpec) -> Q:
    """Who may be in an audience for this channel: the consent, and an address to reach them at."""
    if spec.consent == "email":
        return Q(consent_email=True) & ~Q(email="")
    return Q(consent_calls=True) & ~Q(phone="")


def matched_people(spec: AudienceSpec, *, now: dt.datetime | None = None) -> QuerySet[Person]:
    """Everyone (not erased) meeting the criteria, with or without the consent."""
    return Person.objects.filter(erased_at__isnull=True).filter(spec_q(spec, now=now))


def members_query(spec: AudienceSpec, *, now: dt.datetime | None = None) -> QuerySet[Person]:
    """The audience's members: meeting the criteria, with the consent, never erased."""
    return matched_people(spec, now=now).filter(consent_q(spec))


# ---- reads ----


@dataclass(frozen=True)
class Counts:
    """How many people meet the criteria, how many of them are members, and why the others are left out."""

    matched: int
    members: int
    left_out_consent: int  # meet the criteria but have not consented on the audience's channel
    left_out_no_address: int  # consented, but have no e-mail address (or phone number) to be reached at

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def spec_counts(*, spec: AudienceSpec, now: dt.datetime | None = None) -> Counts:
    """The live counts of a spec in one query (two when it names personas)."""
    flag = "consent_email" if spec.consent == "email" else "consent_calls"
    got = matched_people(spec, now=now).aggregate(
        matched=Count("pk"),
        members=Count("pk", filter=consent_q(spec)),
        no_consent=Count("pk", filter=Q(**{flag: False})),
    )
    matched, members, no_consent = got["matched"], got["members"], got["no_consent"]
    return Counts(
        matched=matched,
        members=members,
        left_out_consent=no_consent,
        left_out_no_address=matched - members - no_consent,
    )


def spec_check(*, spec: Any) -> AudienceSpec:
    """Parse a spec and check that every persona, theme, campaign and owner it names exists (naming the first that does not)."""
    parsed = spec_parse(spec)
    for kind, model in (("persona", Persona), ("theme", Theme), ("campaign", Campaign), ("owner", User)):
        wanted = parsed.ids(kind)
        if not wanted:
            continue
        found = set(model._default_manager.filter(pk__in=wanted).values_list("pk", flat=True))
        for i, c in enumerate(parsed.criteria):
            missing = [v for v in c.values if c.type == kind and v not in found]
            if missing:
                key = "owner_ids" if kind == "owner" else f"{kind}_ids"
                raise ValidationFailed(
                    f"there is no {'user' if kind == 'owner' else kind} {missing[0]}",
                    field=f"criteria[{i}].{key}",
                    value=missing[0],
                )
    # Personas whose rules cannot be read in the database are refused now, not when the audience is counted.
    if parsed.ids("persona"):
        _persona_qs(parsed.ids("persona"))
    return parsed


def spec_names(spec: AudienceSpec) -> dict[tuple[str, int], str]:
    """Names of the personas, themes, campaigns and users a spec names, for its sentences."""
    names: dict[tuple[str, int], str] = {}
    for kind, model, attr in (
        ("persona", Persona, "name"),
        ("theme", Theme, "label"),
        ("campaign", Campaign, "name"),
        ("owner", User, "username"),
    ):
        wanted = spec.ids(kind)
        if wanted:
            for pk, name in model._default_manager.filter(pk__in=wanted).values_list("pk", attr):
                names[(kind, pk)] = str(name)
    return names


def spec_sentences(*, spec: AudienceSpec) -> list[str]:
    """The spec in words, with names for the ids it holds."""
    return spec_describe(spec, spec_names(spec))


def audience_spec(audience: Audience) -> AudienceSpec:
    """The audience's spec in force, as stored (checked when it was published)."""
    return spec_parse(audience.spec)


def audience_get(*, audience_id: int) -> Audience:
    """One audience (NotFound naming the id otherwise)."""
    found = Audience.objects.filter(pk=audience_id).first() if 0 < audience_id <= MAX_ID else None
    if found is None:
        raise NotFound(f"there is no audience {audience_id}", field="audience_id", value=audience_id)
    return found


def audience_by_ref(*, ref: str) -> Audience:
    """An audience by its id or its exact name (the CLI's argument)."""
    ref = ref.strip()
    found = None
    if ref.isdigit() and 0 < int(ref) <= MAX_ID:
        found = Audience.objects.filter(pk=int(ref)).first()
    if found is None and "\x00" not in ref:
        found = Audience.objects.filter(name=ref).first()
    if found is None:
        raise NotFound(f"no audience has id or name {ref!r}", field="audience", value=ref)
    return found


@dataclass
class AudiencePage:
    items: list[Audience]
    next_cursor: str | None
    prev_cursor: str | None


def _id_page(
    qs: QuerySet[Any], *, cursor: str, order: str, limit: int
) -> tuple[list[Any], str | None, str | None]:
    """One keyset page of `qs` by id: (rows, next cursor, previous cursor)."""
    boundary = cursor_decode(cursor, order=order) if cursor else None
    if boundary is None:
        qs = qs.order_by("pk")
    elif boundary.backward:
        qs = qs.filter(pk__lt=boundary.id).order_by("-pk")
    else:
        qs = qs.filter(pk__gt=boundary.id).order_by("pk")
    rows = list(qs[: limit + 1])
    items, more = rows[:limit], len(rows) > limit
    going_back = boundary is not None and boundary.backward
    if going_back:
        items.reverse()
    if not items:
        return [], None, None
    has_next = True if going_back else more
    has_prev = more if going_back else boundary is not None
    return (
        items,
        cursor_encode(Cursor(order, "", items[-1].pk)) if has_next else None,
        cursor_encode(Cursor(order, "", items[0].pk, backward=True)) if has_prev else None,
    )


def audience_page(*, cursor: str = "", limit: int = PAGE_SIZE) -> AudiencePage:
    """A page of audiences by id (keyset pages, for the API)."""
    items, next_cursor, prev_cursor = _id_page(
        Audience.objects.all(), cursor=cursor, order="audience", limit=limit
    )
    return AudiencePage(items=items, next_cursor=next_cursor, prev_cursor=prev_cursor)


@dataclass
class AudienceRow:
    audience: Audience
    counts: Counts
    sentences: list[str]


def audience_list() -> list[AudienceRow]:
    """Every audience by name, each in words and with its live counts (a count query per audience)."""
    rows = []
    for audience in Audience.objects.order_by("name", "id"):
        spec = audience_spec(audience)
        rows.append(
            AudienceRow(audience=audience, counts=spec_counts(spec=spec), sentences=spec_sentences(spec=spec))
        )
    return rows


def audience_versions(*, audience: Audience) -> list[AudienceVersion]:
    """The audience's versions, newest first, with who published each and why."""
    return list(audience.versions.select_related("created_by").order_by("-version"))


@dataclass
class MemberPage:
    items: list[Person]
    next_cursor: str | None
    prev_cursor: str | None


def audience_members_page(
    *, audience: Audience, user: Any, cursor: str = "", limit: int = PAGE_SIZE
) -> MemberPage:
    """A page of the live members `user` may see, by person id (keyset pages; user None sees everyone)."""
    if not 1 <= limit <= PAGE_MAX:
        raise ValidationFailed(f"limit must be from 1 to {PAGE_MAX}", field="limit", value=limit)
    qs = access_seen(members_query(audience_spec(audience)), user=user).select_related("account")
    items, next_cursor, prev_cursor = _id_page(qs, cursor=cursor, order=ORDER, limit=limit)
    return MemberPage(items=items, next_cursor=next_cursor, prev_cursor=prev_cursor)


# ---- export ----

EXPORT_CHUNK = 2000


def export_format(value: str) -> str:
    """The export format asked for (mailchimp or mautic), refused naming the value otherwise."""
    if value not in EXPORT_FORMATS:
        raise ValidationFailed(
            f"format must be one of {', '.join(EXPORT_FORMATS)}", field="format", value=value
        )
    return value


def audience_export_rows(*, audience: Audience, fmt: str, user: Any) -> Iterator[dict[str, Any]]:
    """The members `user` may see as rows of the tool's import columns, by person id (one query per 2,000 people)."""
    fmt = export_format(fmt)
    qs = (
        access_seen(members_query(audience_spec(audience)), user=user)
        .order_by("pk")
        .values_list(
            "pk",
            "email",
            "first_name",
            "last_name",
            "phone",
            "job_title",
            "account__name",
            "account__country",
        )
    )
    tag = audience.name
    last = 0
    while True:
        chunk = list(qs.filter(pk__gt=last)[:EXPORT_CHUNK])
        for _pk, email, first, last_name, phone, title, company, country in chunk:
            if fmt == "mailchimp":
                yield {
                    "Email Address": email,
                    "First Name": first,
                    "Last Name": last_name,
                    "Phone Number": phone,
                    "Tags": tag,
                }
            else:
                yield {
                    "email": email,
                    "firstname": first,
                    "lastname": last_name,
                    "company": company or "",
                    "position": title,
                    "phone": phone,
                    "country": country or "",
                    "tags": tag,
                }
        if len(chunk) < EXPORT_CHUNK:
            return
        last = chunk[-1][0]


# ---- personal data (tandem.privacy) ----


def audience_members_export_person(*, person_id: int) -> list[dict[str, Any]]:
    """The audiences one person was in at their last sync, for the per-person export."""
    return [
        {"audience_id": aid, "audience": name, "added_at": added}
        for aid, name, added in AudienceMember.objects.filter(person_id=person_id)
        .order_by("audience_id")
        .values_list("audience_id", "audience__name", "added_at")
    ]
