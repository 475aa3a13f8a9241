"""Turning journaled submissions into people, touchpoints and events, many rows per transaction.

A batch costs about fifteen queries whatever its size: people are looked up by all their emails and ids at
once, new accounts, people, stage changes, touchpoints and events are inserted in bulk, and the journal rows
are marked together. Rows are re-read from their raw payload, so the same code serves first processing and
`tandem capture replay`.

Concurrency: on SQLite a batch reads its rows, then writes inside one IMMEDIATE transaction, so batches take
turns. On PostgreSQL a batch claims the oldest waiting rows with FOR UPDATE SKIP LOCKED before it reads them,
so drains running in parallel take disjoint rows; two batches creating the same new email collide on its
unique index (or deadlock), and the loser reads again and retries. A batch that fails for any other reason is
re-run one row at a time, so one bad row is marked `failed` with its error and cannot hold the others back.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from tandem.campaigns.models import Campaign
from tandem.campaigns.selectors import campaign_by_ref, campaign_for_utm
from tandem.capture.ingest import IngestBatch, NewPerson, NewTouchpoint, Who, ingest
from tandem.capture.intake.validation import (
    CleanSubmission,
    FieldSpec,
    TrackEvent,
    body_decode,
    channel_infer,
    submission_clean,
    track_events_clean,
    utm_from_url,
)
from tandem.capture.models import Form, Submission, SubmissionStatus, UnknownUtm
from tandem.core.bulk import rows_insert, rows_update
from tandem.core.errors import TandemError, ValidationFailed
from tandem.core.locks import writer_turn
from tandem.core.models import Event
from tandem.crm.channels import CHANNELS, TOUCHPOINT_KINDS
from tandem.crm.consent.services import consents_record_bulk
from tandem.crm.identity import (
    MERGED_EMAIL_SYSTEM,
    email_normalize,
    email_normalize_configured,
    name_key,
    phone_normalize,
)
from tandem.crm.models import Account, ConsentRecord, ConsentSource, ExternalId, Person
from tandem.crm.selectors import person_match
from tandem.crm.services import Transition, accounts_for_emails, external_ids_add_bulk

log = logging.getLogger(__name__)

CHANNEL_SET = {c for c, _ in CHANNELS}
KIND_SET = {k for k, _ in TOUCHPOINT_KINDS}
BATCH = 100
# On SQLite a batch's writes hold the database's only write lock, which every arriving submission needs for its
# journal row: small batches keep that wait short (a 25-row write takes a few milliseconds).
SQLITE_BATCH = 25


def batch_size() -> int:
    """Rows per processing transaction on this database."""
    return SQLITE_BATCH if connection.vendor == "sqlite" else BATCH


def fields_of(form: Form) -> list[FieldSpec]:
    """A form's stored field list, typed."""
    return [FieldSpec(**{**f, "choices": tuple(f.get("choices", ()))}) for f in form.fields]


def decode(*, body: bytes, content_type: str, expect: str) -> dict[str, Any]:
    """The body as a flat dict; an HTML form posted as multipart/form-data is read too (files are ignored)."""
    if expect == "form" and content_type.split(";")[0].strip().lower() == "multipart/form-data":
        import io

        from django.http.multipartparser import MultiPartParser, MultiPartParserError

        meta = {"CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body))}
        try:
            post, _files = MultiPartParser(meta, io.BytesIO(body), [], "utf-8").parse()
        except (MultiPartParserError, ValueError) as exc:
            raise ValidationFailed(f"the form body cannot be read: {exc}", field="body", value="") from None
        return {k: (v[0] if len(v) == 1 else v) for k, v in post.lists()}
    return body_decode(body=body, content_type=content_type, expect=expect)


@dataclass
class _Touch:
    """One touchpoint to record, and whom it belongs to."""

    sub: Submission
    kind: str
    occurred_at: dt.datetime
    email: str = ""
    phone: str = ""
    system: str = ""
    external_id: str = ""
    person_fields: dict[str, str] = field(default_factory=dict)
    consent_email: bool = False
    consent_calls: bool = False
    custom: dict[str, Any] = field(default_factory=dict)
    campaign_ref: str = ""
    utm: dict[str, str] = field(default_factory=dict)
    channel_hint: str = ""
    default_campaign: Campaign | None = None
    url: str = ""
    referrer: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    fill_blanks: bool = False
    person: Person | None = None
    created: bool = False
    campaign: Campaign | None = None
    channel: str = ""
    unknown_utm: bool = False  # its utm_campaign tag names no campaign: counted for review, not made one

    def identity(self) -> tuple[str, str]:
        if self.email:
            return ("email", email_normalize_configured(self.email) or self.email.lower())
        if self.external_id:
            return (self.system, self.external_id)
        return ("phone", phone_normalize(self.phone) or self.phone)


@dataclass
class ProcessResult:
    """What one drain did."""

    processed: int = 0
    rejected: int = 0
    failed: int = 0
    # Rows another drain took between this one's read and its write (SQLite): the journal is not empty.
    raced: int = 0


def _form_touch(sub: Submission, clean: CleanSubmission) -> _Touch:
    form = sub.form
    assert form is not None
    page_url = clean.page_url
    referrer = clean.referrer or ("" if page_url else sub.referrer)
    utm = clean.utm or utm_from_url(page_url) or utm_from_url(sub.referrer)
    return _Touch(
        sub=sub,
        kind=form.touchpoint_kind,
        occurred_at=sub.received_at,
        email=clean.email,
        phone=clean.person.get("phone", ""),
        person_fields=dict(clean.person),
        consent_email=clean.consent_email,
        consent_calls=clean.consent_calls,
        custom=dict(clean.custom),
        campaign_ref=clean.campaign_ref,
        utm=utm,
        channel_hint=channel_infer(utm=utm, referrer=referrer or sub.referrer, page_url=page_url),
        default_campaign=form.campaign,
        url=page_url,
        referrer=referrer,
        extra={"form": form.slug, "submission": sub.pk},
        fill_blanks=True,
    )


def _track_touch(sub: Submission, event: TrackEvent) -> _Touch:
    return _Touch(
        sub=sub,
        kind=event.kind,
        occurred_at=event.occurred_at,
        email=event.email,
        phone=event.phone,
        system=event.system,
        external_id=event.external_id,
        person_fields=dict(event.person),
        campaign_ref=event.campaign_ref,
        utm=dict(event.utm),
        channel_hint=event.channel or channel_infer(utm=event.utm, referrer=event.referrer, page_url=event.url),
        url=event.url,
        referrer=event.referrer,
        extra={"submission": sub.pk, **({"properties": event.properties} if event.properties else {})},
    )


def _parse(sub: Submission) -> list[_Touch]:
    """The touchpoints a journal row asks for; ValidationFailed when its raw payload no longer passes."""
    body = sub.payload.encode("utf-8")
    if sub.source == Submission.Source.TRACK:
        data = body_decode(body=body, content_type=sub.content_type, expect="json")
        events = track_events_clean(data=data, kinds=KIND_SET, channels=CHANNEL_SET, now=timezone.now())
        return [_track_touch(sub, e) for e in events]
    form = sub.form
    if form is None:
        raise ValidationFailed(f"no form has the key {sub.key!r}", field="key", value=sub.key)
    expect = "json" if sub.source == Submission.Source.FORM_JSON else "form"
    clean = submission_clean(fields=fields_of(form), data=decode(body=body, content_type=sub.content_type, expect=expect))
    if clean.is_spam:
        return []
    return [_form_touch(sub, clean)]


def _resolve_campaigns(touches: list[_Touch]) -> None:
    """Read which campaign each touch belongs to. A utm_campaign tag no campaign carries leaves the touch
    without one (its channel read from the visit), and is counted for review by `_unknown_utms_count`."""
    cache: dict[tuple[str, str, str, str], Campaign | None] = {}
    for t in touches:
        key = (t.campaign_ref, t.utm.get("utm_campaign", ""), t.utm.get("utm_source", ""), t.utm.get("utm_medium", ""))
        if key not in cache:
            campaign = campaign_by_ref(ref=t.campaign_ref) if t.campaign_ref else None
            if campaign is None and t.utm.get("utm_campaign"):
                campaign = campaign_for_utm(utm=t.utm)
            cache[key] = campaign
        campaign = cache[key]
        # Anonymous senders never create campaigns, and the form's own campaign is not what the tag says either.
        t.unknown_utm = campaign is None and bool(t.utm.get("utm_campaign"))
        _place(t, campaign if campaign is not None else (None if t.unknown_utm else t.default_campaign))


def _place(t: _Touch, campaign: Campaign | None) -> None:
    t.campaign = campaign
    # An outside system's own channel wins; otherwise the campaign's, otherwise what the visit shows.
    explicit = t.sub.source == Submission.Source.TRACK and t.channel_hint and t.channel_hint in CHANNEL_SET
    t.channel = t.channel_hint if explicit and not campaign else (campaign.channel if campaign else t.channel_hint)


@dataclass
class _Seen:
    """One unknown tag set in a batch: how often, when first and last, and the channel its first visit read as."""

    count: int
    first: dt.datetime
    last: dt.datetime
    channel: str


def _unknown_utms_count(touches: list[_Touch]) -> int:
    """Count the batch's unknown utm_campaign tags, one row per tag, source and medium (inside the batch's
    transaction); each tag set seen for the first time leaves an event. Returns how many touches had one.

    One upsert per tag set in the batch, so two batches meeting the same new tag at once add up, never collide.
    """
    seen: dict[tuple[str, str, str], _Seen] = {}
    for t in touches:
        if not t.unknown_utm:
            continue
        key = (t.utm.get("utm_campaign", ""), t.utm.get("utm_source", ""), t.utm.get("utm_medium", ""))
        found = seen.get(key)
        if found is None:
            seen[key] = _Seen(count=1, first=t.occurred_at, last=t.occurred_at, channel=t.channel_hint)
        else:
            found.count += 1
            found.first, found.last = min(found.first, t.occurred_at), max(found.last, t.occurred_at)
    if not seen:
        return 0
    q = connection.ops.quote_name
    table = q(UnknownUtm._meta.db_table)
    later, earlier = ("GREATEST", "LEAST") if connection.vendor == "postgresql" else ("MAX", "MIN")
    field = UnknownUtm._meta.get_field("first_seen")
    sql = (
        f"INSERT INTO {table} (value, utm_source, utm_medium, channel, first_seen, last_seen, count, status) "
        f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (value, utm_source, utm_medium) DO UPDATE SET "
        f"count = {table}.count + EXCLUDED.count, first_seen = {earlier}({table}.first_seen, EXCLUDED.first_seen), "
        f"last_seen = {later}({table}.last_seen, EXCLUDED.last_seen) RETURNING id, count"
    )
    events = []
    with connection.cursor() as cursor:
        for (value, source, medium), s in seen.items():
            cursor.execute(
                sql,
                [value, source, medium, s.channel, field.get_db_prep_save(s.first, connection),
                 field.get_db_prep_save(s.last, connection), s.count, UnknownUtm.Status.NEW],
            )
            pk, count = cursor.fetchone()
            if int(count) == s.count:  # the row is new: its count is this batch's
                events.append(
                    Event(kind="capture.unknown_utm_seen", subject_type="capture.unknownutm", subject_id=int(pk),
                          reason="a utm_campaign tag no campaign carries arrived anonymously",
                          data={"utm_campaign": value, "utm_source": source, "utm_medium": medium, "channel": s.channel},
                          occurred_at=s.first)
                )
    rows_insert(objects=events)
    return sum(s.count for s in seen.values())


def _find_people(touches: list[_Touch]) -> None:
    emails: set[str] = set()
    for t in touches:
        if t.email:
            emails.update(k for k in (email_normalize_configured(t.email), email_normalize(t.email)) if k)
    by_email = {p.email_normalized: p for p in Person.objects.filter(email_normalized__in=sorted(emails))}
    rest = sorted(emails - set(by_email))
    if rest:
        for link in ExternalId.objects.filter(system=MERGED_EMAIL_SYSTEM, external_id__in=rest).select_related("person"):
            by_email.setdefault(link.external_id, link.person)
    by_external: dict[tuple[str, str], Person] = {}
    systems: dict[str, set[str]] = {}
    for t in touches:
        if t.external_id:
            systems.setdefault(t.system, set()).add(t.external_id)
    for system, ids in systems.items():
        for link in ExternalId.objects.filter(system=system, external_id__in=sorted(ids)).select_related("person"):
            by_external[(system, link.external_id)] = link.person
    for t in touches:
        person = None
        if t.email:
            for k in (email_normalize_configured(t.email), email_normalize(t.email)):
                if k and k in by_email:
                    person = by_email[k]
                    break
        if person is None and t.external_id:
            person = by_external.get((t.system, t.external_id))
        if person is None and t.phone and not t.email and not t.external_id:
            person = person_match(phone=t.phone)
        t.person = person
    # A known person met under a new outside id gets it linked, unless that id already names someone.
    links = {
        (t.system, t.external_id): t.person
        for t in touches
        if t.person is not None and t.external_id and (t.system, t.external_id) not in by_external
    }
    if links:
        external_ids_add_bulk(
            external_ids=[ExternalId(person=p, system=s, external_id=e) for (s, e), p in links.items()]
        )


def _new_people(touches: list[_Touch], now: dt.datetime) -> dict[tuple[str, str], Person]:
    """One new (unsaved) person per unknown identity in the batch, with its account, from its first touch."""
    firsts: dict[tuple[str, str], _Touch] = {}
    for t in sorted((t for t in touches if t.person is None), key=lambda t: t.occurred_at):
        firsts.setdefault(t.identity(), t)
    if not firsts:
        return {}
    accounts = accounts_for_emails(
        pairs=[(t.email, t.person_fields.get("company", "")) for t in firsts.values() if t.email or t.person_fields.get("company")]
    )
    made: dict[tuple[str, str], Person] = {}
    for identity, t in firsts.items():
        f = t.person_fields
        account: Account | None = accounts.get((t.email, f.get("company", "")))
        made[identity] = Person(
            email=t.email,
            email_normalized=email_normalize_configured(t.email) or None,
            first_name=f.get("first_name", ""),
            last_name=f.get("last_name", ""),
            name_key=name_key(f.get("first_name", ""), f.get("last_name", "")),
            job_title=f.get("job_title", ""),
            phone=t.phone,
            account=account,
            custom_fields=dict(t.custom),
            created_at=t.occurred_at,
            updated_at=now,
        )
        t.created = True
    for t in touches:
        if t.person is None:
            t.person = made[t.identity()]
    return made


# What `ingest` is told of a new person and of a touchpoint (the journey fields it fills itself).
PERSON_COLUMNS = (
    "email", "email_normalized", "first_name", "last_name", "name_key", "job_title", "phone", "account_id",
    "custom_fields", "created_at", "updated_at",
)
TOUCHPOINT_COLUMNS = (
    "occurred_at", "channel", "campaign_id", "kind", "utm_source", "utm_medium", "utm_campaign", "utm_term",
    "utm_content", "url", "referrer", "custom_fields",
)
# The stage a captured new person starts at (inserted with it; its stage change is recorded all the same).
FIRST_STAGE = "lead"
# Fields a returning person's blanks may fill (written for every person filled). Consent is not a field: a
# ticked box becomes a consent record (`_consents`), and the consent service sets the person's flags.
FILLED_FIELDS = ("first_name", "last_name", "name_key", "job_title", "phone", "custom_fields", "account")


def _key(person: Person) -> int:
    # People new in the batch have no key yet: told apart by identity, never equal to a stored one's.
    return person.pk if person.pk is not None else -id(person)


def _fill_blanks(touches: list[_Touch]) -> tuple[dict[int, dict[str, Any]], dict[Person, Collection[str]]]:
    """A known person's blank fields take the new answers; nothing filled is ever overwritten.

    Returns what each submission filled, and the stored people changed. People new in this batch are not
    saved yet: their later submissions fill them before they are inserted.
    """
    changed: dict[int, Person] = {}
    filled: dict[int, dict[str, Any]] = {}
    needs_account: list[tuple[Person, _Touch]] = []
    for t in touches:
        person = t.person
        if not t.fill_blanks or t.created or person is None:
            continue
        done = filled.setdefault(t.sub.pk, {})
        for key, value in t.person_fields.items():
            if key != "company" and value and not getattr(person, key):
                setattr(person, key, value)
                done[key] = value
        for key in ("consent_email", "consent_calls"):
            if getattr(t, key) and not getattr(person, key):
                done[key] = True  # told in the capture event; `_consents` records it
        custom = {k: v for k, v in t.custom.items() if person.custom_fields.get(k) != v}
        if custom:
            person.custom_fields = {**person.custom_fields, **custom}
            done["custom_fields"] = sorted(custom)
        if person.account_id is None and t.person_fields.get("company"):
            needs_account.append((person, t))
        if done:
            person.name_key = name_key(person.first_name, person.last_name)
            changed[_key(person)] = person
    if needs_account:
        accounts = accounts_for_emails(pairs=[(p.email or t.email, t.person_fields["company"]) for p, t in needs_account])
        for person, t in needs_account:
            account = accounts.get((person.email or t.email, t.person_fields["company"]))
            if account is not None and person.account_id is None:
                person.account = account
                filled.setdefault(t.sub.pk, {})["account"] = account.pk
                changed[_key(person)] = person
    return filled, {p: FILLED_FIELDS for p in changed.values() if p.pk is not None}


def _write(touches: list[_Touch], now: dt.datetime) -> tuple[dict[int, dict[str, Any]], list[int]]:
    """New people, filled blanks, external ids, touchpoints, latest channels and first stages, through `ingest`.

    Returns what each submission filled and the touchpoints' keys, in the order of `touches`."""
    made = _new_people(touches, now)
    filled, changes = _fill_blanks(touches)
    new = {identity: NewPerson(values=tuple(getattr(p, c) for c in PERSON_COLUMNS)) for identity, p in made.items()}
    by_object = {id(made[identity]): person for identity, person in new.items()}

    def who(person: Person | None) -> Who:
        assert person is not None
        return by_object[id(person)] if person.pk is None else person.pk

    links = [(who(t.person), t.system, t.external_id) for t in touches if t.created and t.external_id]

    def transitions() -> list[Transition]:
        firsts = {t.identity(): t for t in touches if t.created}
        return [
            Transition(
                person_id=new[k].pk,
                to_stage=FIRST_STAGE,
                at=person.created_at,
                reason=f"captured: {firsts[k].extra.get('form') or firsts[k].kind}",
                details={"submission": firsts[k].sub.pk},
            )
            for k, person in made.items()
        ]

    stored = {t.person.pk: t.person for t in touches if t.person is not None and t.person.pk is not None}
    done = ingest(
        batch=IngestBatch(
            now=now,
            person_columns=PERSON_COLUMNS,
            people=list(new.values()),
            changes=changes,
            external_ids=links,
            touchpoint_columns=TOUCHPOINT_COLUMNS,
            touchpoints=[
                NewTouchpoint(
                    who(t.person),
                    (
                        t.occurred_at, t.channel, t.campaign.pk if t.campaign is not None else None, t.kind,
                        t.utm.get("utm_source", ""), t.utm.get("utm_medium", ""), t.utm.get("utm_campaign", ""),
                        t.utm.get("utm_term", ""), t.utm.get("utm_content", ""), t.url[:2000], t.referrer[:2000],
                        t.extra,
                    ),
                    # Touches of the same moment keep their arrival order.
                    (index,),
                )
                for index, t in enumerate(touches)
            ],
            touchpoint_keys=True,
            stored_journeys="latest",
            stored=stored,
            transitions=transitions,
            first_stage=FIRST_STAGE,
        )
    )
    for identity, person in made.items():
        person.pk = new[identity].pk
        person._state.adding, person._state.db = False, "default"
    _consents(touches)
    return filled, done.touchpoint_pks


def _consents(touches: list[_Touch]) -> int:
    """Each ticked consent box as a grant from the form, at the submission's time (in the batch's transaction).

    A box left empty withdraws nothing: the visitor did not say no, they did not say yes on this form."""
    records = [
        ConsentRecord(
            person_id=t.person.pk,
            channel=channel,
            granted=True,
            at=t.occurred_at,
            source=ConsentSource.FORM,
            note=f"form {t.extra.get('form', '')}, submission #{t.sub.pk}",
        )
        for t in touches
        if t.person is not None
        for channel, ticked in (("email", t.consent_email), ("calls", t.consent_calls))
        if ticked
    ]
    return consents_record_bulk(records=records)


@dataclass
class _Plan:
    """A batch read and understood, before anything is written."""

    subs: list[Submission]
    touches: list[_Touch]
    rejected: list[tuple[Submission, TandemError]]
    spam: list[Submission]


def _prepare(subs: list[Submission]) -> _Plan:
    """The reading half of a batch: parse payloads, find campaigns and people. Takes no write lock."""
    touches: list[_Touch] = []
    rejected: list[tuple[Submission, TandemError]] = []
    spam: list[Submission] = []
    for sub in subs:
        try:
            mine = _parse(sub)
        except TandemError as exc:
            rejected.append((sub, exc))
            continue
        if not mine:
            spam.append(sub)
        touches.extend(mine)
    _resolve_campaigns(touches)
    _find_people(touches)
    return _Plan(subs=subs, touches=touches, rejected=rejected, spam=spam)


def _only(plan: _Plan, live: set[int]) -> _Plan:
    return _Plan(
        subs=[s for s in plan.subs if s.pk in live],
        touches=[t for t in plan.touches if t.sub.pk in live],
        rejected=[(s, e) for s, e in plan.rejected if s.pk in live],
        spam=[s for s in plan.spam if s.pk in live],
    )


def _apply(plan: _Plan) -> ProcessResult:
    """The writing half: unknown UTM counts, accounts, people, stages, touchpoints, events, the journal rows."""
    out = ProcessResult()
    now = timezone.now()
    subs, touches, rejected, spam = plan.subs, plan.touches, plan.rejected, plan.spam
    unknown = _unknown_utms_count(touches)
    filled, tps = _write(touches, now)
    events = []
    per_sub: dict[int, list[tuple[_Touch, int]]] = {}
    for t, tp in zip(touches, tps, strict=True):
        per_sub.setdefault(t.sub.pk, []).append((t, tp))
    done: list[Submission] = []
    for sub in subs:
        pairs = per_sub.get(sub.pk)
        if not pairs:
            continue
        if sub.source == Submission.Source.TRACK:
            created = len({t.person.pk for t, _ in pairs if t.created and t.person is not None})
            sub.result = {"events": len(pairs), "touchpoints": len(pairs), "people_created": created}
            events.append(
                Event(kind="capture.tracked", subject_type="capture.submission", subject_id=sub.pk, reason="tracking endpoint",
                      data={**sub.result, "unknown_utm": unknown}, occurred_at=now)
            )
        else:
            t, tp = pairs[0]
            assert t.person is not None
            sub.person = t.person
            sub.result = {"person_created": t.created, "campaign_id": t.campaign.pk if t.campaign else None}
            data: dict[str, Any] = {
                "submission": sub.pk, "form": sub.form_id, "touchpoint": tp,
                "campaign": t.campaign.pk if t.campaign else None, "created": t.created,
            }
            if filled.get(sub.pk):
                data["filled"] = filled[sub.pk]
            if t.unknown_utm:
                data["unknown_utm"] = t.utm.get("utm_campaign", "")
            events.append(
                Event(kind="capture.form_submitted", subject_type="crm.person", subject_id=t.person.pk,
                      reason=f"form: {sub.form.name if sub.form else sub.key}", data=data, occurred_at=sub.received_at)
            )
        sub.status, sub.http_status, sub.processed_at = SubmissionStatus.PROCESSED, 201, now
        sub.error, sub.error_field = "", ""
        done.append(sub)
    for sub in spam:
        sub.status, sub.http_status, sub.processed_at = SubmissionStatus.SPAM, 201, now
        done.append(sub)
    for sub, refusal in rejected:
        sub.status, sub.http_status = SubmissionStatus.REJECTED, refusal.status_code
        sub.error, sub.error_field = refusal.message[:2000], (refusal.field or "")[:120]
        done.append(sub)
    for sub in done:
        sub.attempts += 1
    rows_insert(objects=events)
    rows_update(
        objects=done,
        fields=["status", "http_status", "processed_at", "error", "error_field", "attempts", "person", "result"],
    )
    out.processed = sum(1 for s in done if s.status in (SubmissionStatus.PROCESSED, SubmissionStatus.SPAM))
    out.rejected = len(rejected)
    return out


def _candidates(*, ids: list[int] | None, limit: int, claim: bool = False) -> list[Submission]:
    rows = Submission.objects.select_related("form", "form__campaign").filter(status=SubmissionStatus.RECEIVED)
    if ids is not None:
        rows = rows.filter(pk__in=ids)
    if claim:  # PostgreSQL, inside the batch's transaction: rows another drain holds are left to it
        rows = rows.select_for_update(skip_locked=True, of=("self",))
    return list(rows.order_by("id")[:limit])


def _still_waiting(pks: list[int]) -> set[int]:
    """Of these rows, those still `received`, now claimed by this transaction (another drain may have won)."""
    rows = Submission.objects.filter(pk__in=pks, status=SubmissionStatus.RECEIVED)
    if connection.vendor == "postgresql":
        rows = rows.select_for_update(skip_locked=True)
    return set(rows.values_list("id", flat=True))


def _run(*, ids: list[int] | None, limit: int) -> ProcessResult | None:
    """One batch of the oldest waiting rows (of `ids`); None when none waits."""
    if connection.vendor == "postgresql":
        # Claimed first, then read and written in one transaction: row locks keep no arrival waiting, and
        # parallel drains never read the same rows.
        with transaction.atomic():
            subs = _candidates(ids=ids, limit=limit, claim=True)
            return _apply(_prepare(subs)) if subs else None
    subs = _candidates(ids=ids, limit=limit)
    if not subs:
        return None
    # SQLite: read without the write lock (arrivals need it for their journal rows), then write.
    plan = _prepare(subs)
    with writer_turn(), transaction.atomic():
        live = _still_waiting([s.pk for s in subs])
        if not live:
            return ProcessResult(raced=len(subs))
        return _apply(plan if len(live) == len(subs) else _only(plan, live))


# deadlock_detected, serialization_failure
_RETRIED_SQLSTATES = {"40P01", "40001"}


def _mark_failed(*, sub_id: int, exc: BaseException) -> None:
    with writer_turn(), transaction.atomic():
        Submission.objects.filter(pk=sub_id, status=SubmissionStatus.RECEIVED).update(
            status=SubmissionStatus.FAILED,
            http_status=202,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            person=None,
            attempts=F("attempts") + 1,
        )


def submissions_process(*, ids: list[int] | None = None, limit: int | None = None) -> ProcessResult:
    """Process journal rows waiting as `received` (those ids, or the oldest `limit`), in one batch."""
    limit = limit or batch_size()
    last: BaseException | None = None
    for _attempt in range(3):
        try:
            return _run(ids=ids, limit=limit) or ProcessResult()
        except IntegrityError as exc:  # someone created one of our people meanwhile: read again
            last = exc
        except OperationalError as exc:
            last = exc
            # PostgreSQL broke a deadlock between two drains by failing this one: nothing was written, run again.
            if getattr(exc.__cause__, "sqlstate", None) not in _RETRIED_SQLSTATES:
                break
        except Exception as exc:
            last = exc
            break
    # The batch as a whole keeps failing: one row at a time, so only the guilty rows are marked failed.
    pending = list(
        Submission.objects.filter(status=SubmissionStatus.RECEIVED, **({"pk__in": ids} if ids is not None else {}))
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    out = ProcessResult()
    for sub_id in pending:
        try:
            part = _run(ids=[sub_id], limit=1) or ProcessResult()
            out.processed += part.processed
            out.rejected += part.rejected
        except Exception as exc:
            log.exception("processing submission %s failed (batch error was %r)", sub_id, last)
            _mark_failed(sub_id=sub_id, exc=exc)
            out.failed += 1
    return out


# While submissions pour in, the drain steps aside: capture (journaling) comes first and processing catches up
# after the burst. It never waits once the oldest waiting row is MAX_LAG_SECONDS old, so it cannot be starved.
BUSY_ARRIVALS_PER_SECOND = 100
MAX_LAG_SECONDS = 30.0
PAUSE_SECONDS = 0.25
SHARE_BATCH_DIVISOR = 3


def _pace(*, now: dt.datetime) -> str:
    """"calm" (drain freely), "wait" (a burst, and the backlog is young) or "share" (a burst, but the oldest
    waiting row is MAX_LAG_SECONDS old: drain, sharing the database with the burst)."""
    oldest = (
        Submission.objects.filter(status=SubmissionStatus.RECEIVED)
        .order_by("received_at")
        .values_list("received_at", flat=True)
        .first()
    )
    if oldest is None:
        return "calm"
    # Arrivals of the last second, whatever became of them: counting only waiting rows would let a drain that
    # keeps up mistake the burst for calm.
    arrived = Submission.objects.filter(received_at__gte=now - dt.timedelta(seconds=1)).count()
    if arrived < BUSY_ARRIVALS_PER_SECOND:
        return "calm"
    return "share" if (now - oldest).total_seconds() >= MAX_LAG_SECONDS else "wait"


def submissions_drain(*, limit: int | None = None, max_batches: int = 100_000, pace: bool = False) -> ProcessResult:
    """Process every waiting journal row, batch after batch, until none is left.

    With `pace` (the background worker), it pauses between batches while submissions arrive faster than
    BUSY_ARRIVALS_PER_SECOND, as long as the oldest waiting row is younger than MAX_LAG_SECONDS.
    """
    import time

    total = ProcessResult()
    for _ in range(max_batches):
        mode = _pace(now=timezone.now()) if pace else "calm"
        if mode == "wait":
            time.sleep(PAUSE_SECONDS)
            continue
        started = time.monotonic()
        # Sharing with a burst: smaller batches hold SQLite's one write lock for less time, and resting as
        # long as each batch took leaves the burst's requests half the time (their p99 stays low).
        part = submissions_process(limit=max(1, batch_size() // SHARE_BATCH_DIVISOR) if mode == "share" else limit)
        if mode == "share":
            time.sleep(time.monotonic() - started)
        total.processed += part.processed
        total.rejected += part.rejected
        total.failed += part.failed
        if part.processed + part.rejected + part.failed + part.raced == 0:
            break
    return total


def drain_loop(*, stop: Any, idle_seconds: float = 0.2) -> None:
    """The worker's capture loop: drain the journal, then look again every `idle_seconds`, until `stop` is set.

    Polling one indexed query five times a second costs nothing next to a request; it spares every request
    from queueing a wake-up task, which would put a second database (the task queue) on capture's hot path.
    """
    while not stop.is_set():
        try:
            done = submissions_drain(pace=True)
        except Exception:  # a lost connection, a locked database: log it, keep the loop alive
            log.exception("capture drain failed; trying again")
            done = ProcessResult()
            if connection.connection is not None and not connection.is_usable():
                connection.close()  # the next pass opens a fresh one
        if done.processed + done.rejected + done.failed == 0:
            stop.wait(idle_seconds)
