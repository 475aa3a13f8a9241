"""REST endpoints for lead capture: the public form endpoint, the tracking endpoint, forms and the journal."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Field, Query, Router, Schema, Status

from tandem.campaigns.models import Campaign
from tandem.capture.intake import selectors
from tandem.capture.intake.services import (
    Arrival,
    Receipt,
    form_create,
    form_submission_receive,
    form_update,
    submission_replay,
    track_receive,
    unknown_utm_campaign_create,
    unknown_utm_ignore,
)
from tandem.capture.models import Submission, UnknownUtm
from tandem.core.errors import NotFound
from tandem.core.http import require_perm
from tandem.core.idempotency import idempotent
from tandem.core.paging import CursorParam, LimitParam, page_dict

router = Router(tags=["capture"])

_FIELDS_SCHEMA = {
    "type": "object",
    "description": "The form's field names as keys (e.g. email, first_name, company, consent_email), plus "
    "optional utm_source, utm_medium, utm_campaign, utm_term, utm_content, campaign_id, page_url, referrer and "
    "submission_id (makes retries harmless, like the Idempotency-Key header).",
    "additionalProperties": True,
    "example": {
        "email": "ann@example.com",
        "first_name": "Ann",
        "company": "Example Ltd",
        "consent_email": True,
        "utm_source": "linkedin",
        "utm_medium": "paid_social",
        "utm_campaign": "spring-launch",
        "page_url": "https://www.example.com/demo?utm_campaign=spring-launch",
        "submission_id": "6f1c0e3a-1d2b-4c8e-9a57-2f0e1b7d9c11",
    },
}
# Optional text fields take text or null (a number is refused, not read as text).
_TEXT_OR_NULL = {"type": ["string", "null"]}
_EVENT_SCHEMA = {
    "type": "object",
    "required": ["kind"],
    "properties": {
        "kind": {"type": "string", "example": "webinar"},
        "occurred_at": {"type": ["string", "null"], "format": "date-time", "description": "default: now"},
        "email": _TEXT_OR_NULL,
        "system": {**_TEXT_OR_NULL, "description": "with external_id: another system's id of the person"},
        "external_id": _TEXT_OR_NULL,
        "phone": _TEXT_OR_NULL,
        "person": {"type": ["object", "null"], "description": "first_name, last_name, company, job_title"},
        "channel": _TEXT_OR_NULL,
        "campaign_id": {"type": ["string", "integer", "null"], "description": "Tandem id or external id of the campaign"},
        "utm_source": _TEXT_OR_NULL,
        "utm_medium": _TEXT_OR_NULL,
        "utm_campaign": _TEXT_OR_NULL,
        "url": _TEXT_OR_NULL,
        "referrer": _TEXT_OR_NULL,
        "properties": {"type": ["object", "null"]},
    },
}
_IDEMPOTENCY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": False,
    "schema": {"type": "string", "maxLength": 200},
    "description": "Send the same key when retrying: the first result is returned and nothing is written twice.",
}


def trusted_proxies() -> int:
    """How many reverse proxies in front of Tandem append the address they saw to X-Forwarded-For."""
    from django.conf import settings

    return int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0) or (1 if getattr(settings, "TANDEM_TRUSTED_PROXY", False) else 0)


def client_address(meta: dict[str, Any], *, proxies: int) -> str:
    """The client's address: REMOTE_ADDR, or behind `proxies` trusted proxies the one the outermost proxy
    appended to X-Forwarded-For (the proxies-th from the right). What the client wrote further left is its
    own claim, so it is never trusted: a client cannot pick the address its posts count against."""
    remote = str(meta.get("REMOTE_ADDR", "") or "")
    if proxies <= 0:
        return remote
    hops = [h.strip() for h in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if h.strip()]
    if not hops:
        return remote
    return hops[-proxies] if len(hops) >= proxies else hops[0]


def read_arrival(request: HttpRequest, *, source: str, key: str, limit: int) -> Arrival:
    """Take the raw body (at most limit + 1 bytes) and the request facts the journal keeps."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    body = request.read(limit + 1)
    return Arrival(
        source=source,
        key=key,
        body=body,
        body_size=max(declared, len(body)),
        content_type=request.META.get("CONTENT_TYPE", ""),
        # The journal keeps, and the per-address rate limit counts, the same address.
        remote_addr=client_address(request.META, proxies=trusted_proxies()),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        referrer=request.META.get("HTTP_REFERER", ""),
        idempotency_key=request.META.get("HTTP_IDEMPOTENCY_KEY", "").strip(),
    )


def receipt_response(receipt: Receipt) -> HttpResponse:
    response = JsonResponse(receipt.body, status=receipt.status_code)
    if receipt.retry_after:
        response["Retry-After"] = str(receipt.retry_after)
    if receipt.replayed:
        response["Idempotent-Replayed"] = "true"
    return response


_RESPONSES = {
    201: {"description": "Received and recorded: `{submission_id, status}`"},
    200: {"description": "A retry with a used Idempotency-Key or submission_id: the first answer again"},
    202: {"description": "Received and journaled; the background worker makes it a person and a touchpoint "
            "(`status: failed` when processing failed and will be retried)"},
    400: {"description": "The body is not valid JSON (`field`: body)"},
    404: {"description": "No form has this key (`field`: key)"},
    409: {"description": "The form is closed"},
    413: {"description": "The body is larger than the limit"},
    415: {"description": "Content-Type is not application/json"},
    422: {"description": "A field is missing or malformed; `field` and `value` name it"},
    429: {"description": "Over the key's rate limit; see the Retry-After header"},
}


@router.post(
    "/capture/forms/{key}/submissions",
    auth=None,
    response={201: dict, 200: dict, 202: dict, 400: dict, 404: dict, 409: dict, 413: dict, 415: dict, 422: dict, 429: dict},
    summary="Submit a web-to-lead form (public, by the form's key)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _FIELDS_SCHEMA}}},
        "parameters": [_IDEMPOTENCY],
        "responses": _RESPONSES,
    },
)
def form_submit(request: HttpRequest, key: str) -> HttpResponse:
    """Submit a form as JSON with the form's public key: creates or finds the person and records a
    touchpoint on the right campaign. Everything that arrives is journaled, even when refused."""
    from django.conf import settings

    arrival = read_arrival(request, source=Submission.Source.FORM_JSON, key=key, limit=settings.CAPTURE_MAX_FORM_BYTES)
    return receipt_response(form_submission_receive(arrival=arrival, expect="json"))


@router.post(
    "/capture/track",
    response={201: dict, 200: dict, 202: dict, 400: dict, 403: dict, 413: dict, 415: dict, 422: dict, 429: dict},
    summary="Record touchpoints from outside systems (one event, or a batch of up to 1,000)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            _EVENT_SCHEMA,
                            {
                                "type": "object",
                                "required": ["events"],
                                "properties": {"events": {"type": "array", "minItems": 1, "maxItems": 1000, "items": _EVENT_SCHEMA}},
                            },
                        ]
                    }
                }
            },
        },
        "parameters": [_IDEMPOTENCY],
    },
)
def track(request: HttpRequest) -> HttpResponse:
    """Record ad clicks, email clicks, webinar attendance, badge scans or calls. A batch is checked whole:
    one bad event refuses it, naming `events[i].field`. People unknown so far are created as leads."""
    from django.conf import settings

    require_perm(request, "capture.add_submission", action="send tracking events")
    arrival = read_arrival(
        request, source=Submission.Source.TRACK, key=f"user:{request.user.pk}", limit=settings.CAPTURE_MAX_TRACK_BYTES
    )
    return receipt_response(track_receive(arrival=arrival, user=request.user))


# ---- forms ----


class FieldIn(Schema):
    name: Annotated[str, Field(max_length=60)]
    label: Annotated[str, Field(max_length=200)] = ""
    type: Annotated[str, Field(max_length=20)] = "text"
    required: bool = False
    choices: list[Annotated[str, Field(max_length=200)]] = []


class FormIn(Schema):
    name: Annotated[str, Field(max_length=200)]
    fields: list[FieldIn]
    campaign_id: int | None = None
    touchpoint_kind: str = "form_submit"
    submit_label: Annotated[str, Field(max_length=60)] = "Send"
    thank_you_message: Annotated[str, Field(max_length=2000)] = ""
    redirect_url: Annotated[str, Field(max_length=500)] = ""
    # Omitted: TANDEM_CAPTURE_FORM_RATE_LIMIT for a new form, the form's own for a change.
    rate_limit_per_minute: Annotated[int | None, Field(ge=1, le=1_000_000)] = None
    is_active: bool = True


class FormOut(Schema):
    id: int
    name: str
    slug: str
    public_key: str
    fields: list[dict[str, Any]]
    campaign_id: int | None
    touchpoint_kind: str
    submit_label: str
    thank_you_message: str
    redirect_url: str
    rate_limit_per_minute: int
    is_active: bool
    hosted_url: str
    submit_url: str
    created_at: dt.datetime


def _form_out(request: HttpRequest, form: Any) -> dict[str, Any]:
    from django.urls import reverse

    return {
        **{k: getattr(form, k) for k in FormOut.model_fields if hasattr(form, k)},
        "hosted_url": request.build_absolute_uri(reverse("intake:hosted", args=[form.public_key])),
        "submit_url": request.build_absolute_uri(reverse("api:form_submit", args=[form.public_key])),
    }


def _campaign(campaign_id: int | None) -> Campaign | None:
    if campaign_id is None:
        return None
    found = Campaign.objects.filter(pk=campaign_id).first()
    if found is None:
        raise NotFound(f"no campaign has id {campaign_id}", field="campaign_id", value=campaign_id)
    return found


@router.get("/capture/forms", response=list[FormOut], summary="List web-to-lead forms")
def forms_list(request: HttpRequest) -> list[dict[str, Any]]:
    """Every form with its public key, hosted page address and JSON submission address."""
    require_perm(request, "capture.view_form", action="see forms")
    return [_form_out(request, f) for f in selectors.form_list()]


@router.post("/capture/forms", response={201: FormOut}, summary="Create a web-to-lead form")
@idempotent
def forms_create(request: HttpRequest, payload: FormIn) -> Status:
    """Define a form: fields (email, first_name, last_name, phone, company, job_title fill the person; other
    names become custom fields; consent_email/consent_calls types are consent boxes), campaign, thank-you."""
    require_perm(request, "capture.add_form", action="create forms")
    data = payload.dict()
    form = form_create(
        name=data["name"],
        fields=data["fields"],
        campaign=_campaign(data["campaign_id"]),
        touchpoint_kind=data["touchpoint_kind"],
        submit_label=data["submit_label"],
        thank_you_message=data["thank_you_message"],
        redirect_url=data["redirect_url"],
        rate_limit_per_minute=data["rate_limit_per_minute"],
        by_user=request.user,
    )
    return Status(201, _form_out(request, form))


@router.get("/capture/forms/{int:form_id}", response=FormOut, summary="One web-to-lead form")
def forms_get(request: HttpRequest, form_id: int) -> dict[str, Any]:
    """A form's definition and addresses."""
    require_perm(request, "capture.view_form", action="see forms")
    return _form_out(request, selectors.form_get(form_id=form_id))


@router.put("/capture/forms/{int:form_id}", response=FormOut, summary="Change a web-to-lead form")
def forms_update(request: HttpRequest, form_id: int, payload: FormIn) -> dict[str, Any]:
    """Replace a form's definition; its key and addresses stay the same."""
    require_perm(request, "capture.change_form", action="change forms")
    data = payload.dict()
    form = form_update(
        form=selectors.form_get(form_id=form_id),
        name=data["name"],
        fields=data["fields"],
        campaign=_campaign(data["campaign_id"]),
        touchpoint_kind=data["touchpoint_kind"],
        submit_label=data["submit_label"],
        thank_you_message=data["thank_you_message"],
        redirect_url=data["redirect_url"],
        rate_limit_per_minute=data["rate_limit_per_minute"],
        is_active=data["is_active"],
        by_user=request.user,
    )
    return _form_out(request, form)


# ---- the journal ----


class SubmissionOut(Schema):
    id: int
    received_at: dt.datetime
    source: str
    form_id: int | None
    key: str
    idempotency_key: str | None
    content_type: str
    remote_addr: str
    body_size: int
    payload: str
    status: str
    http_status: int
    error: str
    error_field: str
    attempts: int
    processed_at: dt.datetime | None
    person_id: int | None
    result: dict[str, Any]


class JournalPageOut(Schema):
    items: list[SubmissionOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


@router.get("/capture/submissions", response=JournalPageOut, summary="The ingestion journal, newest first")
def submissions_list(
    request: HttpRequest,
    status: Annotated[str, Query(max_length=12)] = "",
    source: Annotated[str, Query(max_length=12)] = "",
    form_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    cursor: CursorParam = "",
    limit: LimitParam = selectors.JOURNAL_PAGE,
) -> dict[str, Any]:
    """Journal rows as they arrived, with their status (processed, rejected, failed, spam) and error."""
    require_perm(request, "capture.change_submission", action="see the journal")
    page = selectors.submission_keyset_page(status=status, source=source, form_id=form_id, cursor=cursor, limit=limit)
    return page_dict(page, lambda row: row)


@router.post(
    "/capture/submissions/{int:submission_id}/replay",
    response={200: SubmissionOut, 409: dict},
    summary="Process a failed or rejected journal row again",
)
def submissions_replay(request: HttpRequest, submission_id: int) -> Submission:
    """Re-run processing from the raw payload (after fixing the form or the cause of a failure)."""
    require_perm(request, "capture.change_submission", action="replay submissions")
    submission = selectors.submission_get(submission_id=submission_id)
    submission_replay(submission=submission)
    submission.refresh_from_db()
    return submission


# ---- unknown UTM tags ----


class UnknownUtmOut(Schema):
    id: int
    value: str
    utm_source: str
    utm_medium: str
    channel: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    count: int
    status: str
    campaign_id: int | None
    decided_at: dt.datetime | None


class UnknownUtmCampaignIn(Schema):
    name: Annotated[str, Field(max_length=200)] = ""
    channel: Annotated[str, Field(max_length=40)] = ""


class UnknownUtmCampaignOut(Schema):
    unknown: UnknownUtmOut
    campaign_id: int


@router.get(
    "/capture/unknown-utm",
    response={200: list[UnknownUtmOut], 403: dict, 422: dict},
    summary="utm_campaign tags that arrived anonymously and name no campaign",
)
def unknown_utm_list(
    request: HttpRequest,
    status: Annotated[str, Query(pattern="^(new|ignored|campaign|all)$", description="new (default), ignored, campaign or all")] = "new",
) -> list[UnknownUtm]:
    """Each tag with its source and medium, how often and when it was first and last seen, most frequent first.
    Form posts and tracking events never create campaigns: their unknown tags wait here for marketing."""
    require_perm(request, "capture.view_unknownutm", action="see unknown UTM tags")
    return selectors.unknown_utm_list(status="" if status == "all" else status)


@router.post(
    "/capture/unknown-utm/{int:unknown_id}/campaign",
    response={201: UnknownUtmCampaignOut, 403: dict, 404: dict, 409: dict, 422: dict},
    summary="Make a campaign of an unknown UTM tag",
)
@idempotent
def unknown_utm_campaign(request: HttpRequest, unknown_id: int, payload: UnknownUtmCampaignIn) -> Status:
    """A campaign carrying the tag's utm_campaign, source and medium (name and channel default to the tag's
    and the channel its first visit read as); later touches with the tag count for it. When a campaign
    carries the tag by now, the tag is linked to it instead."""
    require_perm(request, "capture.change_unknownutm", action="review unknown UTM tags")
    require_perm(request, "campaigns.add_campaign", action="create campaigns")
    unknown = selectors.unknown_utm_get(unknown_id=unknown_id)
    campaign = unknown_utm_campaign_create(
        unknown=unknown, by_user=request.user, name=payload.name, channel=payload.channel
    )
    return Status(201, {"unknown": selectors.unknown_utm_get(unknown_id=unknown_id), "campaign_id": campaign.pk})


@router.post(
    "/capture/unknown-utm/{int:unknown_id}/ignore",
    response={200: UnknownUtmOut, 403: dict, 404: dict, 409: dict},
    summary="Take an unknown UTM tag off the review list",
)
def unknown_utm_ignore_endpoint(request: HttpRequest, unknown_id: int) -> UnknownUtm:
    """The tag is still counted when it comes again; it never makes a campaign."""
    require_perm(request, "capture.change_unknownutm", action="review unknown UTM tags")
    return unknown_utm_ignore(unknown=selectors.unknown_utm_get(unknown_id=unknown_id), by_user=request.user)
