"""Writes for web-to-lead forms and the ingestion journal: every arrival is journaled raw, then processed.

The journal row and the processing share one transaction, the processing inside a savepoint: a failure
rolls back only the processing and leaves the raw row marked `failed` with its error, for
`tandem capture replay`. Reads (the form, the person, the campaign) happen before the write transaction
opens, because on SQLite a write transaction holds the database's single write lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from tandem.campaigns.channels import CHANNELS, TOUCHPOINT_KINDS
from tandem.campaigns.models import Campaign
from tandem.campaigns.selectors import campaign_by_ref, campaign_for_utm
from tandem.campaigns.services import advisory_lock, campaign_draft_from_utm, touchpoint_record
from tandem.capture.intake.validation import (
    CleanSubmission,
    FieldSpec,
    TrackEvent,
    body_decode,
    channel_infer,
    form_fields_parse,
    submission_clean,
    track_events_clean,
    utm_from_url,
)
from tandem.capture.models import Form, RateWindow, Submission, SubmissionStatus
from tandem.core.errors import NotAllowed, NotFound, TandemError, ValidationFailed
from tandem.core.events import event_record
from tandem.crm.identity import email_normalize_configured, phone_normalize
from tandem.crm.models import Account, ExternalId, Person
from tandem.crm.selectors import person_match
from tandem.crm.services import account_for_email, person_create

log = logging.getLogger(__name__)

CHANNEL_SET = {c for c, _ in CHANNELS}
KIND_SET = {k for k, _ in TOUCHPOINT_KINDS}


# ---- forms ----


def _form_values(
    *,
    name: str,
    fields: Any,
    campaign: Campaign | None,
    touchpoint_kind: str,
    submit_label: str,
    thank_you_message: str,
    redirect_url: str,
    rate_limit_per_minute: int,
) -> dict[str, Any]:
    name = name.strip()
    if not name:
        raise ValidationFailed("a form needs a name", field="name", value=name)
    if len(name) > 200:
        raise ValidationFailed("the name is longer than 200 characters", field="name", value=name[:40])
    specs = form_fields_parse(fields)
    if touchpoint_kind not in Form.Kind.values:
        raise ValidationFailed(
            f"touchpoint kind {touchpoint_kind!r} is not one of {', '.join(Form.Kind.values)}",
            field="touchpoint_kind",
            value=touchpoint_kind,
        )
    redirect_url = redirect_url.strip()
    if redirect_url and not re.match(r"^https?://[^\s/]+", redirect_url):
        raise ValidationFailed(
            f"redirect address {redirect_url!r} must start with http:// or https://",
            field="redirect_url",
            value=redirect_url,
        )
    if not 1 <= rate_limit_per_minute <= 1_000_000:
        raise ValidationFailed(
            "the rate limit must be between 1 and 1,000,000 submissions a minute",
            field="rate_limit_per_minute",
            value=rate_limit_per_minute,
        )
    return {
        "name": name,
        "fields": [s.as_dict() for s in specs],
        "campaign": campaign,
        "touchpoint_kind": touchpoint_kind,
        "submit_label": submit_label.strip()[:60] or "Send",
        "thank_you_message": thank_you_message.strip() or "Thank you! We will be in touch soon.",
        "redirect_url": redirect_url,
        "rate_limit_per_minute": rate_limit_per_minute,
    }


def _unique_slug(name: str, *, exclude_id: int | None = None) -> str:
    base = slugify(name)[:70] or "form"
    slug, n = base, 1
    others = Form.objects.exclude(pk=exclude_id) if exclude_id is not None else Form.objects.all()
    while others.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def form_create(
    *,
    name: str,
    fields: Any,
    campaign: Campaign | None = None,
    touchpoint_kind: str = Form.Kind.FORM_SUBMIT,
    submit_label: str = "Send",
    thank_you_message: str = "",
    redirect_url: str = "",
    rate_limit_per_minute: int = 120,
    by_user: Any = None,
) -> Form:
    """Define a web-to-lead form; it gets a hosted page, an HTML snippet and a public key."""
    values = _form_values(
        name=name,
        fields=fields,
        campaign=campaign,
        touchpoint_kind=touchpoint_kind,
        submit_label=submit_label,
        thank_you_message=thank_you_message,
        redirect_url=redirect_url,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    form = Form.objects.create(
        slug=_unique_slug(values["name"]),
        created_by=by_user if getattr(by_user, "pk", None) else None,
        **values,
    )
    event_record(kind="form.created", subject=form, actor=by_user, data={"fields": values["fields"]})
    return form


@transaction.atomic
def form_update(
    *,
    form: Form,
    name: str,
    fields: Any,
    campaign: Campaign | None = None,
    touchpoint_kind: str = Form.Kind.FORM_SUBMIT,
    submit_label: str = "Send",
    thank_you_message: str = "",
    redirect_url: str = "",
    rate_limit_per_minute: int = 120,
    is_active: bool = True,
    by_user: Any = None,
) -> Form:
    """Change a form; its key and address stay, so pasted snippets keep working."""
    values = _form_values(
        name=name,
        fields=fields,
        campaign=campaign,
        touchpoint_kind=touchpoint_kind,
        submit_label=submit_label,
        thank_you_message=thank_you_message,
        redirect_url=redirect_url,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    values["is_active"] = is_active
    before = {k: getattr(form, k) for k in values if k != "campaign"}
    before["campaign"] = form.campaign_id
    for key, value in values.items():
        setattr(form, key, value)
    form.save()
    after = {k: getattr(form, k) for k in values if k != "campaign"}
    after["campaign"] = form.campaign_id
    changes = {k: [before[k], after[k]] for k in after if before[k] != after[k]}
    if changes:
        event_record(kind="form.updated", subject=form, actor=by_user, data={"changes": changes})
    return form


# ---- the journal ----


@dataclass(frozen=True)
class Arrival:
    """What an HTTP request brought, before anything is made of it."""

    source: str
    key: str
    body: bytes
    body_size: int
    content_type: str = ""
    remote_addr: str = ""
    user_agent: str = ""
    referrer: str = ""
    idempotency_key: str = ""


@dataclass
class Receipt:
    """The answer to an arrival: HTTP status, JSON body, and the journal row it left."""

    status_code: int
    body: dict[str, Any]
    submission: Submission | None = None
    replayed: bool = False
    retry_after: int = 0
    redirect_url: str = ""
    form: Form | None = None
    errors: dict[str, str] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


class _RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after


def _rate_hit(*, key: str, limit: int, now: float) -> None:
    """Count a request against its key's budget for this minute; over budget aborts the transaction."""
    window = int(now // 60)
    table = connection.ops.quote_name(RateWindow._meta.db_table)
    quoted = connection.ops.quote_name("window")
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, {quoted}, count) VALUES (%s, %s, 1) "
            f"ON CONFLICT (key, {quoted}) DO UPDATE SET count = {table}.count + 1 RETURNING count",
            [key, window],
        )
        count = cursor.fetchone()[0]
        if count == 1:
            # A new minute: forget this key's old minutes, so the table stays one row per busy key.
            cursor.execute(f"DELETE FROM {table} WHERE key = %s AND {quoted} < %s", [key, window - 1])
    if count > limit:
        raise _RateLimited(retry_after=max(1, 60 - int(now % 60)))


def _storable(text: str, limit: int) -> str:
    # Kept as it came, except NUL, which PostgreSQL cannot store in text (it becomes U+FFFD).
    return text[:limit].replace("\x00", "\ufffd")


def _journal_new(*, arrival: Arrival, form: Form | None, idempotency_key: str, limit: int) -> Submission:
    cut = arrival.body[:limit] if len(arrival.body) > limit else arrival.body
    return Submission(
        received_at=timezone.now(),
        source=arrival.source,
        form=form,
        key=_storable(arrival.key, 80),
        idempotency_key=_storable(idempotency_key, 200) or None,
        content_type=_storable(arrival.content_type, 200),
        remote_addr=_storable(arrival.remote_addr, 64),
        user_agent=_storable(arrival.user_agent, 400),
        referrer=_storable(arrival.referrer, 2000),
        body_size=arrival.body_size,
        payload=_storable(cut.decode("utf-8", "replace"), limit + 1),
    )


def _journal_insert(sub: Submission) -> Submission | None:
    """Insert the raw row; None when its idempotency key was already used (a retry)."""
    if sub.idempotency_key is None:
        sub.save(force_insert=True)
        return sub
    try:
        with transaction.atomic():
            sub.save(force_insert=True)
    except IntegrityError:
        return None
    return sub


def _mark(sub: Submission, *, status: str, http_status: int, error: TandemError | None = None, **extra: Any) -> None:
    sub.status = status
    sub.http_status = http_status
    if error is not None:
        sub.error = error.message[:2000]
        sub.error_field = (error.field or "")[:120]
    for key, value in extra.items():
        setattr(sub, key, value)
    Submission.objects.filter(pk=sub.pk).update(
        status=sub.status,
        http_status=sub.http_status,
        error=sub.error,
        error_field=sub.error_field,
        attempts=sub.attempts,
        processed_at=sub.processed_at,
        person=sub.person,
        result=sub.result,
    )


def _replayed_receipt(*, key: str, idempotency_key: str) -> Receipt:
    prior = Submission.objects.get(key=_storable(key, 80), idempotency_key=_storable(idempotency_key, 200))
    # The first answer again: the same words as it had (a spam row was answered as received, too).
    if prior.status == SubmissionStatus.REJECTED:
        body: dict[str, Any] = {"submission_id": prior.pk, "detail": prior.error, "field": prior.error_field}
    elif prior.status == SubmissionStatus.FAILED:
        body = {"submission_id": prior.pk, "status": "failed", "detail": "received; processing will be retried"}
    else:
        public = prior.result if prior.source == Submission.Source.TRACK else {}
        body = {"submission_id": prior.pk, "status": "received", **public}
    status = prior.http_status or (202 if prior.status == SubmissionStatus.RECEIVED else 200)
    if status == 201:
        status = 200
    return Receipt(status_code=status, body=body, submission=prior, replayed=True)


def _decode(*, body: bytes, content_type: str, expect: str) -> dict[str, Any]:
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


def _error_status(exc: TandemError) -> int:
    field_name = exc.field or ""
    if field_name == "Content-Type":
        return 415
    if field_name == "body" and exc.status_code == 422:
        return 400
    return exc.status_code


# ---- form submissions ----


@dataclass
class _FormPlan:
    """The reads done before the write lock: whom and which campaign a submission points to."""

    clean: CleanSubmission
    person: Person | None
    campaign: Campaign | None
    draft_utm: dict[str, str] | None
    channel: str
    referrer: str


def _form_plan(*, form: Form, clean: CleanSubmission, header_referrer: str) -> _FormPlan:
    page_url = clean.page_url
    referrer = clean.referrer or ("" if page_url else header_referrer)
    utm = clean.utm or utm_from_url(page_url) or utm_from_url(header_referrer)
    clean = CleanSubmission(**{**clean.__dict__, "utm": utm})
    person = person_match(email=clean.email or None, phone=clean.person.get("phone") or None)
    campaign = campaign_by_ref(ref=clean.campaign_ref) if clean.campaign_ref else None
    draft_utm = None
    if campaign is None and utm.get("utm_campaign"):
        campaign = campaign_for_utm(utm=utm)
        if campaign is None:
            draft_utm = utm
    if campaign is None and draft_utm is None:
        campaign = form.campaign
    inferred = channel_infer(utm=utm, referrer=referrer or header_referrer, page_url=page_url)
    channel = campaign.channel if campaign is not None else inferred
    return _FormPlan(
        clean=clean, person=person, campaign=campaign, draft_utm=draft_utm, channel=channel, referrer=referrer
    )


def _person_fill(*, person: Person, clean: CleanSubmission) -> dict[str, Any]:
    """Fill a known person's blank fields from a new submission; never overwrite what is there."""
    changes: dict[str, Any] = {}
    for key, value in clean.person.items():
        if key != "company" and value and not getattr(person, key):
            changes[key] = value
    if clean.consent_email and not person.consent_email:
        changes["consent_email"] = True
    if clean.consent_calls and not person.consent_calls:
        changes["consent_calls"] = True
    custom = {k: v for k, v in clean.custom.items() if person.custom_fields.get(k) != v}
    if custom:
        changes["custom_fields"] = {**person.custom_fields, **custom}
    if person.account_id is None and clean.person.get("company"):
        account = account_for_email(email=person.email or clean.email, company=clean.person["company"])
        if account is not None:
            changes["account"] = account
    if changes:
        for key, value in changes.items():
            setattr(person, key, value)
        person.updated_at = timezone.now()
        person.save(update_fields=[*changes, "updated_at"])
    return {k: (v.pk if isinstance(v, Account) else v) for k, v in changes.items() if k != "custom_fields"} | (
        {"custom_fields": sorted(custom)} if custom else {}
    )


def _form_process(*, form: Form, plan: _FormPlan, sub: Submission, now: dt.datetime) -> dict[str, Any]:
    clean = plan.clean
    campaign = plan.campaign
    if plan.draft_utm is not None:
        campaign = campaign_draft_from_utm(utm=plan.draft_utm, channel=plan.channel, note=f"submission {sub.pk}")
    channel = campaign.channel if campaign is not None else plan.channel
    person, created = plan.person, False
    if person is None:
        try:
            person = person_create(
                email=clean.email,
                first_name=clean.person.get("first_name", ""),
                last_name=clean.person.get("last_name", ""),
                job_title=clean.person.get("job_title", ""),
                phone=clean.person.get("phone", ""),
                company=clean.person.get("company", ""),
                original_channel=channel,
                original_campaign=campaign,
                consent_email=clean.consent_email,
                consent_calls=clean.consent_calls,
                custom_fields=dict(clean.custom),
                created_at=now,
                reason=f"form: {form.name}",
            )
            created = True
        except NotAllowed:
            # Someone else created this email between our read and our write: it is theirs, and ours too.
            person = person_match(email=clean.email or None, phone=clean.person.get("phone") or None)
            if person is None:
                raise
    filled = {} if created else _person_fill(person=person, clean=clean)
    touchpoint = touchpoint_record(
        person=person,
        kind=form.touchpoint_kind,
        channel=channel,
        occurred_at=now,
        campaign=campaign,
        utm=clean.utm,
        url=clean.page_url,
        referrer=plan.referrer,
        custom_fields={"form": form.slug, "submission": sub.pk},
    )
    event_record(
        kind="capture.form_submitted",
        subject=person,
        reason=f"form: {form.name}",
        data={
            "submission": sub.pk,
            "form": form.pk,
            "touchpoint": touchpoint.pk,
            "campaign": campaign.pk if campaign is not None else None,
            "created": created,
            **({"filled": filled} if filled else {}),
        },
        occurred_at=now,
    )
    sub.person = person
    return {"person_created": created, "campaign_id": campaign.pk if campaign is not None else None}


def form_lookup(*, key: str) -> Form | None:
    """The form a public key (or, for hosted pages, a slug) names."""
    return Form.objects.select_related("campaign").filter(public_key=key).first()


def form_submission_receive(*, arrival: Arrival, expect: str, form: Form | None = None) -> Receipt:
    """Journal a form submission raw, check it, and make it a person and a touchpoint."""
    started = time.time()
    form = form if form is not None else form_lookup(key=arrival.key)
    limit_bytes = settings.CAPTURE_MAX_FORM_BYTES
    error: TandemError | None = None
    clean: CleanSubmission | None = None
    data: dict[str, Any] = {}
    if arrival.body_size > limit_bytes:
        error = ValidationFailed(
            f"the submission is {arrival.body_size} bytes; the limit is {limit_bytes}",
            field="body",
            value=arrival.body_size,
        )
    elif form is None:
        error = NotFound(f"no form has the key {arrival.key!r}", field="key", value=arrival.key)
    elif not form.is_active:
        error = NotAllowed(f"the form {form.name!r} is closed", field="key", value=arrival.key)
    else:
        try:
            data = _decode(body=arrival.body, content_type=arrival.content_type, expect=expect)
            fields = [FieldSpec(**{**f, "choices": tuple(f.get("choices", ()))}) for f in form.fields]
            clean = submission_clean(fields=fields, data=data)
        except ValidationFailed as exc:
            error = exc
    idempotency_key = arrival.idempotency_key
    if not idempotency_key and isinstance(data.get("submission_id"), str):
        idempotency_key = data["submission_id"].strip()
    status_code = 413 if arrival.body_size > limit_bytes else (_error_status(error) if error else 201)
    if error is not None and form is not None and arrival.body_size > limit_bytes:
        status_code = 413
    plan = None
    if clean is not None and not clean.is_spam and form is not None:
        plan = _form_plan(form=form, clean=clean, header_referrer=arrival.referrer)
    rate_key = form.public_key if form is not None else "unknown-form-key"
    rate_limit = form.rate_limit_per_minute if form is not None else settings.CAPTURE_UNKNOWN_KEY_RATE_LIMIT
    now = timezone.now()
    try:
        with transaction.atomic():
            _rate_hit(key=rate_key, limit=rate_limit, now=started)
            sub = _journal_insert(
                _journal_new(arrival=arrival, form=form, idempotency_key=idempotency_key, limit=limit_bytes)
            )
            if sub is None:
                return _replayed_receipt(key=arrival.key, idempotency_key=idempotency_key)
            if error is not None:
                _mark(sub, status=SubmissionStatus.REJECTED, http_status=status_code, error=error)
                receipt = _error_receipt(sub=sub, error=error, status_code=status_code, form=form)
                receipt.data = data
                return receipt
            assert form is not None and clean is not None
            if clean.is_spam:
                _mark(sub, status=SubmissionStatus.SPAM, http_status=201)
                return _ok_receipt(sub=sub, form=form)
            assert plan is not None
            return _process_in_savepoint(sub=sub, form=form, plan=plan, now=now)
    except _RateLimited as limited:
        return Receipt(
            status_code=429,
            body={
                "detail": f"too many submissions for this key; retry in {limited.retry_after} s",
                "field": "key",
                "value": arrival.key,
            },
            retry_after=limited.retry_after,
            form=form,
        )


def _process_in_savepoint(*, sub: Submission, form: Form, plan: _FormPlan, now: dt.datetime) -> Receipt:
    sub.attempts += 1
    try:
        with transaction.atomic():
            result = _form_process(form=form, plan=plan, sub=sub, now=now)
    except TandemError as exc:
        sub.result, sub.person = {}, None
        _mark(sub, status=SubmissionStatus.REJECTED, http_status=exc.status_code, error=exc)
        return _error_receipt(sub=sub, error=exc, status_code=exc.status_code, form=form)
    except Exception as exc:  # the raw row stays, marked, for `tandem capture replay`
        log.exception("processing submission %s failed", sub.pk)
        sub.person = None
        sub.error = f"{type(exc).__name__}: {exc}"[:2000]
        _mark(sub, status=SubmissionStatus.FAILED, http_status=202)
        return Receipt(
            status_code=202,
            body={"submission_id": sub.pk, "status": "failed", "detail": "received; processing will be retried"},
            submission=sub,
            form=form,
        )
    sub.result = result
    sub.processed_at = timezone.now()
    _mark(sub, status=SubmissionStatus.PROCESSED, http_status=201)
    return _ok_receipt(sub=sub, form=form)


def _ok_receipt(*, sub: Submission, form: Form) -> Receipt:
    # The public answer names no person: a public key must not tell anyone whether an email is known.
    return Receipt(
        status_code=201,
        body={"submission_id": sub.pk, "status": "received"},
        submission=sub,
        redirect_url=form.redirect_url,
        form=form,
    )


def _error_receipt(*, sub: Submission, error: TandemError, status_code: int, form: Form | None) -> Receipt:
    body = {"submission_id": sub.pk, **error.as_dict()}
    errors = {error.field: error.message} if error.field else {}
    return Receipt(status_code=status_code, body=body, submission=sub, form=form, errors=errors)


# ---- tracking ----


def _tracked_person(*, event: TrackEvent, cache: dict[tuple[str, str], Person]) -> tuple[Person, bool]:
    keys = []
    if event.email:
        keys.append(("email", email_normalize_configured(event.email) or event.email.lower()))
    if event.external_id:
        keys.append((event.system, event.external_id))
    if event.phone:
        keys.append(("phone", phone_normalize(event.phone) or event.phone))
    for key in keys:
        if key in cache:
            return cache[key], False
    person = person_match(
        email=event.email or None,
        system=event.system or None,
        external_id=event.external_id or None,
        phone=event.phone or None,
    )
    created = False
    if person is None:
        advisory_lock("person:" + "|".join(f"{a}:{b}" for a, b in keys))
        person = person_match(
            email=event.email or None,
            system=event.system or None,
            external_id=event.external_id or None,
            phone=event.phone or None,
        )
    if person is None:
        try:
            with transaction.atomic():
                person = person_create(
                    email=event.email,
                    phone=event.phone,
                    first_name=event.person.get("first_name", ""),
                    last_name=event.person.get("last_name", ""),
                    job_title=event.person.get("job_title", ""),
                    company=event.person.get("company", ""),
                    original_channel=event.channel,
                    created_at=event.occurred_at,
                    reason=f"tracked {event.kind}",
                )
                if event.external_id:
                    ExternalId.objects.create(person=person, system=event.system, external_id=event.external_id)
            created = True
        except (NotAllowed, IntegrityError):
            person = person_match(
                email=event.email or None,
                system=event.system or None,
                external_id=event.external_id or None,
                phone=event.phone or None,
            )
            if person is None:
                raise
    elif event.external_id and not ExternalId.objects.filter(
        system=event.system, external_id=event.external_id
    ).exists():
        ExternalId.objects.create(person=person, system=event.system, external_id=event.external_id)
    for key in keys:
        cache[key] = person
    return person, created


def _track_process(*, events: list[TrackEvent], sub: Submission) -> dict[str, Any]:
    people: dict[tuple[str, str], Person] = {}
    campaigns: dict[tuple[str, str, str, str], Campaign | None] = {}
    created_people: set[int] = set()
    touchpoints = 0
    drafts = 0
    newest: dict[int, dt.datetime] = {}
    for event in events:
        person, created = _tracked_person(event=event, cache=people)
        if created:
            created_people.add(person.pk)
        ckey = (event.campaign_ref, event.utm.get("utm_campaign", ""), event.utm.get("utm_source", ""), event.utm.get("utm_medium", ""))
        if ckey not in campaigns:
            campaign = campaign_by_ref(ref=event.campaign_ref) if event.campaign_ref else None
            if campaign is None and event.utm.get("utm_campaign"):
                campaign = campaign_for_utm(utm=event.utm)
                if campaign is None:
                    channel = event.channel or channel_infer(utm=event.utm, referrer=event.referrer, page_url=event.url)
                    campaign = campaign_draft_from_utm(utm=event.utm, channel=channel, note=f"submission {sub.pk}")
                    drafts += 1
            campaigns[ckey] = campaign
        campaign = campaigns[ckey]
        channel = event.channel or (
            campaign.channel
            if campaign is not None
            else channel_infer(utm=event.utm, referrer=event.referrer, page_url=event.url)
        )
        if created and not person.original_channel:
            Person.objects.filter(pk=person.pk).update(
                original_channel=channel, original_campaign=campaign, latest_channel=channel, latest_campaign=campaign
            )
            person.original_channel = person.latest_channel = channel
        # Batches may arrive out of order: only a touchpoint newer than all the person's others is the latest.
        latest = newest.get(person.pk)
        if latest is None:
            from tandem.campaigns.models import Touchpoint

            latest = (
                Touchpoint.objects.filter(person=person).order_by("-occurred_at").values_list("occurred_at", flat=True).first()
            )
        is_newest = latest is None or event.occurred_at >= latest
        if is_newest:
            newest[person.pk] = event.occurred_at
        elif latest is not None:
            newest[person.pk] = latest
        touchpoint_record(
            person=person,
            kind=event.kind,
            channel=channel,
            occurred_at=event.occurred_at,
            campaign=campaign,
            utm=event.utm,
            url=event.url,
            referrer=event.referrer,
            custom_fields={"submission": sub.pk, **({"properties": event.properties} if event.properties else {})},
            update_latest=is_newest,
        )
        touchpoints += 1
    event_record(
        kind="capture.tracked",
        subject=sub,
        reason="tracking endpoint",
        data={"touchpoints": touchpoints, "people_created": len(created_people), "drafts": drafts},
    )
    return {"events": len(events), "touchpoints": touchpoints, "people_created": len(created_people)}


def track_receive(*, arrival: Arrival, user: Any) -> Receipt:
    """Journal a tracking request (one event or a batch of up to 1,000) raw, check it whole, and record it."""
    started = time.time()
    limit_bytes = settings.CAPTURE_MAX_TRACK_BYTES
    error: TandemError | None = None
    events: list[TrackEvent] = []
    if arrival.body_size > limit_bytes:
        error = ValidationFailed(
            f"the request is {arrival.body_size} bytes; the limit is {limit_bytes}", field="body", value=arrival.body_size
        )
    else:
        try:
            data = body_decode(body=arrival.body, content_type=arrival.content_type, expect="json")
            events = track_events_clean(data=data, kinds=KIND_SET, channels=CHANNEL_SET, now=timezone.now())
        except ValidationFailed as exc:
            error = exc
    status_code = 413 if arrival.body_size > limit_bytes else (_error_status(error) if error else 201)
    try:
        with transaction.atomic():
            _rate_hit(key=arrival.key, limit=settings.CAPTURE_TRACK_RATE_LIMIT, now=started)
            sub = _journal_insert(
                _journal_new(arrival=arrival, form=None, idempotency_key=arrival.idempotency_key, limit=limit_bytes)
            )
            if sub is None:
                return _replayed_receipt(key=arrival.key, idempotency_key=arrival.idempotency_key)
            if error is not None:
                _mark(sub, status=SubmissionStatus.REJECTED, http_status=status_code, error=error)
                return _error_receipt(sub=sub, error=error, status_code=status_code, form=None)
            return _track_in_savepoint(sub=sub, events=events)
    except _RateLimited as limited:
        return Receipt(
            status_code=429,
            body={"detail": f"too many requests for this token; retry in {limited.retry_after} s"},
            retry_after=limited.retry_after,
        )


def _track_in_savepoint(*, sub: Submission, events: list[TrackEvent]) -> Receipt:
    sub.attempts += 1
    try:
        with transaction.atomic():
            result = _track_process(events=events, sub=sub)
    except TandemError as exc:
        _mark(sub, status=SubmissionStatus.REJECTED, http_status=exc.status_code, error=exc)
        return _error_receipt(sub=sub, error=exc, status_code=exc.status_code, form=None)
    except Exception as exc:
        log.exception("processing tracking submission %s failed", sub.pk)
        sub.error = f"{type(exc).__name__}: {exc}"[:2000]
        _mark(sub, status=SubmissionStatus.FAILED, http_status=202)
        return Receipt(
            status_code=202,
            body={"submission_id": sub.pk, "status": "failed", "detail": "received; processing will be retried"},
            submission=sub,
        )
    sub.result = result
    sub.processed_at = timezone.now()
    _mark(sub, status=SubmissionStatus.PROCESSED, http_status=201)
    return Receipt(status_code=201, body={"submission_id": sub.pk, "status": "received", **result}, submission=sub)


# ---- replay ----


@dataclass
class ReplayResult:
    """What a replay did: how many journal rows it processed, and which still fail and why."""

    processed: int = 0
    rejected: int = 0
    failed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)


def submission_replay(*, submission: Submission) -> Submission:
    """Process a journaled submission again from its raw payload (after a fix, or a failure)."""
    if submission.status in (SubmissionStatus.PROCESSED, SubmissionStatus.SPAM):
        raise NotAllowed(
            f"submission {submission.pk} is already {submission.status}; only failed or rejected ones are replayed",
            field="status",
            value=submission.status,
        )
    body = submission.payload.encode("utf-8")
    now = timezone.now()
    submission.error, submission.error_field = "", ""
    if submission.source == Submission.Source.TRACK:
        try:
            data = body_decode(body=body, content_type=submission.content_type, expect="json")
            events = track_events_clean(data=data, kinds=KIND_SET, channels=CHANNEL_SET, now=now)
        except ValidationFailed as exc:
            with transaction.atomic():
                submission.attempts += 1
                _mark(submission, status=SubmissionStatus.REJECTED, http_status=_error_status(exc), error=exc)
            return submission
        with transaction.atomic():
            _track_in_savepoint(sub=submission, events=events)
        return submission
    form = submission.form
    if form is None:
        form = form_lookup(key=submission.key)
    try:
        if form is None:
            raise NotFound(f"no form has the key {submission.key!r}", field="key", value=submission.key)
        expect = "json" if submission.source == Submission.Source.FORM_JSON else "form"
        data = _decode(body=body, content_type=submission.content_type, expect=expect)
        fields = [FieldSpec(**{**f, "choices": tuple(f.get("choices", ()))}) for f in form.fields]
        clean = submission_clean(fields=fields, data=data)
    except TandemError as exc:
        with transaction.atomic():
            submission.attempts += 1
            _mark(submission, status=SubmissionStatus.REJECTED, http_status=_error_status(exc), error=exc)
        return submission
    if form.pk != submission.form_id:
        Submission.objects.filter(pk=submission.pk).update(form=form)
        submission.form = form
    if clean.is_spam:
        with transaction.atomic():
            _mark(submission, status=SubmissionStatus.SPAM, http_status=201)
        return submission
    plan = _form_plan(form=form, clean=clean, header_referrer=submission.referrer)
    with transaction.atomic():
        _process_in_savepoint(sub=submission, form=form, plan=plan, now=submission.received_at)
    return submission


def submissions_replay(
    *, statuses: tuple[str, ...] = (SubmissionStatus.FAILED,), ids: list[int] | None = None, limit: int = 10_000
) -> ReplayResult:
    """Replay journaled submissions by status (failed by default) or by id."""
    rows = Submission.objects.order_by("id")
    rows = rows.filter(pk__in=ids) if ids else rows.filter(status__in=statuses)
    out = ReplayResult()
    for sub in rows.select_related("form")[:limit]:
        try:
            submission_replay(submission=sub)
        except NotAllowed as exc:
            out.errors.append((sub.pk, exc.message))
            continue
        if sub.status == SubmissionStatus.PROCESSED or sub.status == SubmissionStatus.SPAM:
            out.processed += 1
        elif sub.status == SubmissionStatus.REJECTED:
            out.rejected += 1
            out.errors.append((sub.pk, sub.error))
        else:
            out.failed += 1
            out.errors.append((sub.pk, sub.error))
    return out
