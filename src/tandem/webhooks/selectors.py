"""Reads for outbound webhooks: endpoints with their health, and the delivery log in keyset pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max, Q
from django.utils import timezone

from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.paging import KeysetPage, keyset_page
from tandem.webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Endpoint

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# Health counts the deliveries of this long.
HEALTH_WINDOW = dt.timedelta(days=7)
_ORDER = "id"


def endpoint_get(*, endpoint_id: int) -> Endpoint:
    """One endpoint, or NotFound naming the id."""
    endpoint = Endpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(f"no webhook endpoint with id {endpoint_id}", field="endpoint_id", value=endpoint_id)
    return endpoint


def endpoints_list() -> list[Any]:
    """Every endpoint, oldest first, each with `health`: its last 7 days' deliveries by status, last attempt."""
    since = timezone.now() - HEALTH_WINDOW
    recent = Q(deliveries__created_at__gte=since)
    rows: list[Any] = list(
        Endpoint.objects.order_by("id").annotate(
            sent_ok=Count("deliveries", filter=recent & Q(deliveries__status=DeliveryStatus.SUCCEEDED)),
            sent_failed=Count(
                "deliveries",
                filter=recent & Q(deliveries__status__in=[DeliveryStatus.FAILED, DeliveryStatus.ABANDONED]),
            ),
            waiting=Count(
                "deliveries", filter=Q(deliveries__status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED])
            ),
            last_attempt_at=Max("deliveries__last_attempt_at"),
        )
    )
    return rows


def deliveries_list(
    *,
    endpoint_id: int | None = None,
    status: str = "",
    event_type: str = "",
    cursor: str = "",
    limit: int = PAGE_SIZE,
) -> KeysetPage:
    """Deliveries newest first, by endpoint, status and event type, a page at a time (keyset on id)."""
    if status and status not in DeliveryStatus.values:
        raise ValidationFailed(
            f"status must be one of {', '.join(DeliveryStatus.values)}", field="status", value=status
        )
    rows = Delivery.objects.all()
    if endpoint_id is not None:
        rows = rows.filter(endpoint_id=endpoint_id)
    if status:
        rows = rows.filter(status=status)
    if event_type:
        rows = rows.filter(event_type=event_type)
    return keyset_page(
        queryset=rows, order=_ORDER, cursor=cursor, limit=max(1, min(int(limit), MAX_PAGE_SIZE))
    )


def delivery_get(*, delivery_id: int) -> Delivery:
    """One delivery, or NotFound naming the id."""
    delivery = Delivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound(f"no webhook delivery with id {delivery_id}", field="delivery_id", value=delivery_id)
    return delivery


def delivery_attempts(*, delivery_id: int, limit: int = 50) -> list[DeliveryAttempt]:
    """A delivery's attempts, newest first."""
    return list(
        DeliveryAttempt.objects.filter(delivery_id=delivery_id).order_by("-attempted_at", "-id")[:limit]
    )


def endpoint_plain(endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint as the API and the CLI show it (never its secret)."""
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "active": endpoint.active,
        "disabled_reason": endpoint.disabled_reason,
        "disabled_at": endpoint.disabled_at,
        "consecutive_failures": endpoint.consecutive_failures,
        "rotation_overlap_until": endpoint.previous_secret_expires_at,
        "created_at": endpoint.created_at,
        "created_by_id": endpoint.created_by_id,
    }
