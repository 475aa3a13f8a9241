"""Reads for scheduled mail: who wants which mail, what was sent, and each mail's content (the weekly alignment
report rendered for mail clients, the SLA digest)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.template.loader import render_to_string

from tandem.analytics.dashboard.display import weekly_context
from tandem.core.errors import ValidationFailed
from tandem.core.links import absolute_url
from tandem.integrations.mail.models import MailKind, MailSend, MailSubscription
from tandem.integrations.mail.tokens import unsubscribe_token
from tandem.lifecycle.selectors import INBOX_STATE_LABELS, inbox_page
from tandem.lifecycle.sla_rules import DUE_SOON, OVERDUE

# Who gets each mail until they choose: the weekly report goes to those who run the sales-marketing meeting
# (managers, marketing, admins, and viewers, who are usually leadership); the SLA digest to those who answer for
# MQLs (reps their own, managers their teams'). Everyone can change either on their account page.
DEFAULT_ROLES: dict[str, frozenset[str]] = {
    MailKind.WEEKLY_REPORT: frozenset({"admin", "marketing", "sales_manager", "viewer"}),
    MailKind.SLA_DIGEST: frozenset({"sales_rep", "sales_manager"}),
}
KIND_HELP: dict[str, str] = {
    MailKind.WEEKLY_REPORT: "Every Monday morning: last week's alignment report (what came in, what converted, "
    "SLA both sides, top wins, biggest changes), as on the Weekly report page.",
    MailKind.SLA_DIGEST: "Every weekday morning: your open MQLs whose first-touch deadline is near or past "
    "(managers: their teams'). Not sent when there is none.",
}
# The MQL states the digest lists: untouched and past the deadline, or due within the policy's "soon".
DIGEST_STATES = (OVERDUE, DUE_SOON)
DIGEST_LIMIT = 200


def mail_configured() -> bool:
    """Whether Tandem sends e-mail: only when an SMTP host is configured (TANDEM_SMTP_HOST)."""
    return bool(getattr(settings, "EMAIL_HOST", ""))


def kind_check(kind: str) -> str:
    """The kind, or ValidationFailed naming it."""
    if kind not in MailKind.values:
        raise ValidationFailed(
            f"kind must be one of {', '.join(MailKind.values)}, not {kind!r}", field="kind", value=kind
        )
    return kind


def subscription_default(*, user: Any, kind: str) -> bool:
    """Whether the user gets a mail of `kind` before choosing: their role's default."""
    return getattr(user, "role", "") in DEFAULT_ROLES[kind]


def mail_subscriptions_of(*, user: Any) -> list[dict[str, Any]]:
    """Each scheduled mail with whether the user gets it, their role's default and whether they chose (one query)."""
    chosen = dict(MailSubscription.objects.filter(user_id=user.pk).values_list("kind", "subscribed"))
    out = []
    for kind, label in MailKind.choices:
        default = subscription_default(user=user, kind=kind)
        out.append(
            {
                "kind": kind,
                "label": label,
                "help": KIND_HELP[kind],
                "subscribed": chosen.get(kind, default),
                "default": default,
                "chosen": kind in chosen,
            }
        )
    return out


def mail_subscribers(*, kind: str, username: str = "") -> list[Any]:
    """Active users with an e-mail address who get mail of `kind` (their choice, else their role's default),
    by username; only `username` when given."""
    kind_check(kind)
    chosen = MailSubscription.objects.filter(kind=kind)
    on = Q(pk__in=chosen.filter(subscribed=True).values("user_id")) | (
        Q(role__in=DEFAULT_ROLES[kind]) & ~Q(pk__in=chosen.values("user_id"))
    )
    users = get_user_model().objects.filter(on, is_active=True).exclude(email="")
    if username:
        users = users.filter(username=username)
    return list(users.order_by("username"))


def mail_sends_recent(*, user: Any, limit: int = 20) -> list[MailSend]:
    """The user's latest scheduled mails, newest first."""
    return list(MailSend.objects.filter(user_id=user.pk).order_by("-created_at", "-id")[:limit])


def unsubscribe_url(*, user_id: int, kind: str) -> str:
    """The one-click unsubscribe address for a mail of `kind` to the user."""
    return absolute_url(f"/mail/unsubscribe/{unsubscribe_token(user_id=user_id, kind=kind)}/")


@dataclass(frozen=True)
class MailContent:
    subject: str
    text: str
    html: str


def weekly_mail_content(*, report: dict[str, Any], user: Any) -> MailContent:
    """The weekly alignment report as a mail: the page's tables as HTML with inline styles (no scripts, no
    stylesheet to fetch) and the same figures as plain text."""
    context = {
        **weekly_context(report),
        "user": user,
        "page_url": absolute_url(f"/reports/weekly/?week={report['week']['start']}"),
        "settings_url": absolute_url("/account/mail/"),
        "unsubscribe_url": unsubscribe_url(user_id=user.pk, kind=MailKind.WEEKLY_REPORT),
    }
    subject = f"[Tandem] Weekly alignment report: week of {report['week']['start']}"
    return MailContent(
        subject=subject,
        text=render_to_string("integrations/mail/weekly_report.txt", context),
        html=render_to_string("integrations/mail/weekly_report.html", context),
    )


def _zone(user: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(getattr(user, "time_zone", "") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def sla_digest_get(*, user: Any, now: dt.datetime) -> dict[str, Any]:
    """The user's open MQLs (managers: their teams', admins: everyone's) whose first-touch deadline is past or
    near under the SLA in force, most urgent first, with deadlines in the user's time zone."""
    page = inbox_page(user=user, sort="urgency", limit=DIGEST_LIMIT, now=now, with_choices=False)
    zone = _zone(user)
    items = [
        {
            "person_id": item.person.pk,
            "name": str(item.person),
            "owner": str(item.person.owner) if item.person.owner else "unassigned",
            "state": item.state,
            "state_label": INBOX_STATE_LABELS[item.state],
            "deadline": item.deadline.astimezone(zone),
            "url": absolute_url(f"/people/{item.person.pk}/"),
        }
        for item in page.items
        if item.state in DIGEST_STATES
    ]
    return {
        "scope": page.scope,
        "items": items,
        "overdue": page.states.get(OVERDUE, 0),
        "due_soon": page.states.get(DUE_SOON, 0),
        "time_zone": str(zone),
        "inbox_url": absolute_url("/inbox/"),
    }


def digest_mail_content(*, digest: dict[str, Any], user: Any, day: dt.date) -> MailContent:
    """The SLA digest as a mail (HTML with inline styles, and plain text)."""
    context = {
        **digest,
        "user": user,
        "day": day,
        "settings_url": absolute_url("/account/mail/"),
        "unsubscribe_url": unsubscribe_url(user_id=user.pk, kind=MailKind.SLA_DIGEST),
    }
    subject = (
        f"[Tandem] SLA digest {day.isoformat()}: {digest['overdue']} overdue, {digest['due_soon']} due soon"
    )
    return MailContent(
        subject=subject,
        text=render_to_string("integrations/mail/sla_digest.txt", context),
        html=render_to_string("integrations/mail/sla_digest.html", context),
    )
