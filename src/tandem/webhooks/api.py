"""REST endpoints for outbound webhooks (admins only): endpoints, their secrets, test pings, the delivery log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from tandem.core.http import Id, NoNul, require_perm
from tandem.core.idempotency import idempotent
from tandem.core.keyset import MAX_ID
from tandem.webhooks import selectors, services
from tandem.webhooks.catalog import EVENT_TYPES
from tandem.webhooks.models import URL_MAX, Delivery, DeliveryStatus

router = Router(tags=["webhooks"])

PERM = "webhooks.manage_webhooks"
Url = Annotated[
    str, Field(max_length=URL_MAX, description="http:// or https:// address that receives the POSTs"), NoNul
]
Description = Annotated[str, Field(max_length=services.DESCRIPTION_MAX), NoNul]
EventName = Annotated[str, Field(max_length=64), NoNul]
EventTypes = Annotated[
    list[EventName] | str,
    Field(
        description='event type names (GET /api/webhooks/event-types), or "*" for every type', max_length=64
    ),
]
Text2000 = Annotated[str, Field(max_length=2000), NoNul]


def _admin(request: HttpRequest) -> Any:
    return require_perm(request, PERM, action="manage webhooks")


class EventTypeOut(Schema):
    name: str
    summary: str


class WebhookEndpointOut(Schema):
    id: int
    url: str
    description: str
    event_types: list[str]
    active: bool
    disabled_reason: str
    disabled_at: dt.datetime | None
    consecutive_failures: int
    rotation_overlap_until: dt.datetime | None = Field(
        None, description="until when the previous secret still signs (a second signature)"
    )
    created_at: dt.datetime
    created_by_id: int | None


class WebhookEndpointSecretOut(WebhookEndpointOut):
    secret: str = Field(..., description="whsec_…: shown only in this answer; keep it to verify signatures")


class WebhookEndpointIn(Schema):
    model_config = ConfigDict(extra="forbid")

    url: Url
    event_types: EventTypes
    description: Description = ""


class WebhookEndpointPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: EventTypes | None = None
    description: Description | None = None
    active: bool | None = Field(None, description="false disables it by hand; true re-enables it")


class WebhookDeliveryOut(Schema):
    id: int
    endpoint_id: int
    message_id: str = Field(..., description="the webhook-id header: the same on every retry and replay")
    event_type: str
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    last_response_code: int | None
    last_error: str
    response_excerpt: str = Field(
        ..., description="the start of the receiver's last answer (1,000 characters)"
    )
    last_duration_ms: int | None
    created_at: dt.datetime
    last_attempt_at: dt.datetime | None
    succeeded_at: dt.datetime | None


class WebhookAttemptOut(Schema):
    attempted_at: dt.datetime
    response_code: int | None
    error: str
    response_excerpt: str
    duration_ms: int
    succeeded: bool


class WebhookDeliveryDetailOut(WebhookDeliveryOut):
    body: str = Field(..., description="the JSON message exactly as sent and signed")
    attempt_log: list[WebhookAttemptOut]


class WebhookDeliveryPageOut(Schema):
    items: list[WebhookDeliveryOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous (newer) page")


class WebhookDeliveryQuery(Schema):
    endpoint_id: int | None = Field(None, ge=1, le=MAX_ID)
    status: Annotated[
        str,
        Field("", max_length=12, description=f"empty or one of {', '.join(DeliveryStatus.values)}"),
        NoNul,
    ] = ""
    event_type: EventName = ""
    cursor: Text2000 = ""
    limit: int = Field(selectors.PAGE_SIZE, ge=1, le=selectors.MAX_PAGE_SIZE)


def _endpoint_out(endpoint: Any, *, secret: bool = False) -> dict[str, Any]:
    out = selectors.endpoint_plain(endpoint)
    if secret:
        out["secret"] = endpoint.secret
    return out


def _detail(delivery: Delivery) -> dict[str, Any]:
    out = WebhookDeliveryOut.model_validate(delivery, from_attributes=True).model_dump()
    attempts = selectors.delivery_attempts(delivery_id=delivery.pk)
    out["body"] = delivery.body
    out["attempt_log"] = [
        WebhookAttemptOut.model_validate(a, from_attributes=True).model_dump() for a in attempts
    ]
    return out


@router.get("/webhooks/event-types", response=list[EventTypeOut])
def webhook_event_types(request: HttpRequest) -> Any:
    """The event types an endpoint can subscribe to; their payloads are in this document's `webhooks` section."""
    _admin(request)
    return [{"name": e.name, "summary": e.summary} for e in EVENT_TYPES.values()]


@router.get("/webhooks/endpoints", response=list[WebhookEndpointOut])
def webhook_endpoints_list(request: HttpRequest) -> Any:
    """Every webhook endpoint (never its secret)."""
    _admin(request)
    return [_endpoint_out(e) for e in selectors.endpoints_list()]


@router.post("/webhooks/endpoints", response={201: WebhookEndpointSecretOut})
@idempotent
def webhook_endpoints_create(request: HttpRequest, payload: WebhookEndpointIn) -> Any:
    """Add an endpoint; the answer holds its signing secret, shown this once."""
    user = _admin(request)
    endpoint = services.endpoint_create(
        url=payload.url, event_types=payload.event_types, description=payload.description, by_user=user
    )
    return Status(201, _endpoint_out(endpoint, secret=True))


@router.get("/webhooks/endpoints/{endpoint_id}", response=WebhookEndpointOut)
def webhook_endpoints_get(request: HttpRequest, endpoint_id: Id) -> Any:
    """One endpoint (never its secret)."""
    _admin(request)
    return _endpoint_out(selectors.endpoint_get(endpoint_id=endpoint_id))


@router.patch("/webhooks/endpoints/{endpoint_id}", response=WebhookEndpointOut)
def webhook_endpoints_update(request: HttpRequest, endpoint_id: Id, payload: WebhookEndpointPatch) -> Any:
    """Change an endpoint's url, description or event types; `active` disables or re-enables it."""
    user = _admin(request)
    endpoint = selectors.endpoint_get(endpoint_id=endpoint_id)
    fields = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    active = fields.pop("active", None)
    services.endpoint_update(endpoint=endpoint, by_user=user, **fields)
    if active is not None:
        services.endpoint_set_active(
            endpoint=endpoint, active=active, by_user=user, reason="set through the API"
        )
    return _endpoint_out(selectors.endpoint_get(endpoint_id=endpoint_id))


@router.delete("/webhooks/endpoints/{endpoint_id}", response={204: None})
def webhook_endpoints_delete(request: HttpRequest, endpoint_id: Id) -> Any:
    """Remove an endpoint and its delivery log."""
    user = _admin(request)
    services.endpoint_remove(endpoint=selectors.endpoint_get(endpoint_id=endpoint_id), by_user=user)
    return HttpResponse(status=204)


@router.post("/webhooks/endpoints/{endpoint_id}/rotate", response=WebhookEndpointSecretOut)
def webhook_endpoints_rotate(request: HttpRequest, endpoint_id: Id) -> Any:
    """Give the endpoint a new secret (shown this once); the old one keeps signing beside it for the overlap."""
    user = _admin(request)
    endpoint = services.endpoint_rotate_secret(
        endpoint=selectors.endpoint_get(endpoint_id=endpoint_id), by_user=user
    )
    return _endpoint_out(endpoint, secret=True)


@router.post("/webhooks/endpoints/{endpoint_id}/ping", response=WebhookDeliveryOut)
def webhook_endpoints_ping(request: HttpRequest, endpoint_id: Id) -> Any:
    """Send a `webhook.ping` test message now and answer with what the receiver said (waits up to the timeout)."""
    user = _admin(request)
    return services.endpoint_ping(endpoint=selectors.endpoint_get(endpoint_id=endpoint_id), by_user=user)


@router.get("/webhooks/deliveries", response=WebhookDeliveryPageOut)
def webhook_deliveries_list(request: HttpRequest, filters: Query[WebhookDeliveryQuery]) -> Any:
    """The delivery log, newest first, by endpoint, status and event type."""
    _admin(request)
    page = selectors.deliveries_list(**filters.dict())
    return {"items": page.items, "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor}


@router.get("/webhooks/deliveries/{delivery_id}", response=WebhookDeliveryDetailOut)
def webhook_deliveries_get(request: HttpRequest, delivery_id: Id) -> Any:
    """One delivery: its message as sent and every attempt with the receiver's answer."""
    _admin(request)
    return _detail(selectors.delivery_get(delivery_id=delivery_id))


@router.post("/webhooks/deliveries/{delivery_id}/replay", response={202: WebhookDeliveryOut})
def webhook_deliveries_replay(request: HttpRequest, delivery_id: Id) -> Any:
    """Send a delivery again under the same message id; the worker makes the attempt within seconds."""
    user = _admin(request)
    delivery = services.delivery_replay(
        delivery=selectors.delivery_get(delivery_id=delivery_id), by_user=user
    )
    return Status(202, delivery)
