"""REST endpoints of mail: the caller's own scheduled-mail subscriptions."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from tandem.integrations.mail import selectors, services
from tandem.integrations.mail.models import MailKind

router = Router(tags=["mail"])


class MailSubscriptionOut(Schema):
    kind: str = Field(..., description="weekly_report or sla_digest")
    label: str
    help: str
    subscribed: bool = Field(..., description="whether you get it")
    default: bool = Field(..., description="your role's default, used until you choose")
    chosen: bool = Field(..., description="whether you chose (else the default applies)")


class MailSubscriptionsOut(Schema):
    configured: bool = Field(
        ..., description="whether an SMTP server is configured (else nothing is e-mailed)"
    )
    items: list[MailSubscriptionOut]


class MailSubscriptionsPatch(Schema):
    weekly_report: bool | None = Field(None, description="get the weekly alignment report (Mondays)")
    sla_digest: bool | None = Field(None, description="get the SLA digest (weekdays)")


def _out(user: Any) -> dict[str, Any]:
    return {"configured": selectors.mail_configured(), "items": selectors.mail_subscriptions_of(user=user)}


@router.get("/mail/subscriptions", response=MailSubscriptionsOut)
def subscriptions_get(request: HttpRequest) -> dict[str, Any]:
    """Which scheduled mails you get: your choice, else your role's default."""
    return _out(request.user)


@router.patch("/mail/subscriptions", response=MailSubscriptionsOut)
def subscriptions_patch(request: HttpRequest, payload: MailSubscriptionsPatch) -> dict[str, Any]:
    """Opt in to or out of scheduled mails; only the kinds sent change."""
    for kind in MailKind.values:
        value = getattr(payload, kind)
        if value is not None:
            services.mail_subscription_set(
                user=request.user, kind=kind, subscribed=value, by_user=request.user, via="api"
            )
    return _out(request.user)
