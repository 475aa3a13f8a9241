"""Every write of scheduled mail and e-mailed content: subscriptions, the weekly report and SLA digest sends
(claimed per period, so never sent twice), content e-mailed with a tracked link, and the link's clicks."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from tandem.analytics.dashboard.selectors import kpi_data_cached, weekly_report_get, weekly_week
from tandem.campaigns.services import touchpoint_record
from tandem.core.errors import NotAllowed, NotFound, ValidationFailed
from tandem.core.events import event_record
from tandem.core.links import absolute_url
from tandem.core.outbox import task_enqueue_on_commit
from tandem.enablement.models import Asset, ContentUse
from tandem.enablement.registry import SendDelivery
from tandem.integrations.mail import selectors
from tandem.integrations.mail.models import MailKind, MailSend, MailSubscription, TrackedLink
from tandem.integrations.mail.tokens import link_token, link_token_read, unsubscribe_token_read

# --- subscriptions -----------------------------------------------------------------------------------------


@transaction.atomic
def mail_subscription_set(
    *, user: Any, kind: str, subscribed: bool, by_user: Any = None, via: str = "page"
) -> bool:
    """Opt the user in to or out of one scheduled mail; an event records each change. Returns the new choice."""
    selectors.kind_check(kind)
    if not isinstance(subscribed, bool):
        raise ValidationFailed("subscribed is true or false.", field="subscribed", value=subscribed)
    current = next(s["subscribed"] for s in selectors.mail_subscriptions_of(user=user) if s["kind"] == kind)
    MailSubscription.objects.update_or_create(
        user_id=user.pk, kind=kind, defaults={"subscribed": subscribed, "changed_at": timezone.now()}
    )
    if current != subscribed:
        event_record(
            kind="mail.subscribed" if subscribed else "mail.unsubscribed",
            subject=user,
            actor=by_user,
            data={"kind": kind, "via": via},
        )
    return subscribed


def mail_unsubscribe(*, token: str) -> tuple[Any, str]:
    """Follow a signed one-click unsubscribe link: the user stops getting that mail. Returns (user, kind)."""
    user_id, kind = unsubscribe_token_read(token=token)
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None or kind not in MailKind.values:
        raise NotFound("This unsubscribe link is not valid.", field="token", value=token[:40])
    mail_subscription_set(user=user, kind=kind, subscribed=False, by_user=user, via="unsubscribe_link")
    return user, kind


# --- scheduled mail: claimed once per (user, kind, period) ----------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    username: str
    to: str
    kind: str
    period: str
    # sent, failed, empty (nothing to say), already (this period was sent or claimed before), would_send (dry run)
    status: str
    error: str = ""


def _claim(*, user: Any, kind: str, period: str, now: dt.datetime) -> MailSend | None:
    """Take the (user, kind, period) send for this run: a new row, or a failed one to retry; None when it was
    sent, found empty, or is being sent by another run (unique row, conditional update: no race)."""
    with transaction.atomic():
        row, created = MailSend.objects.get_or_create(
            user_id=user.pk, kind=kind, period=period,
            defaults={"status": MailSend.Status.SENDING, "to_address": user.email, "created_at": now},
        )  # fmt: skip
    if created:
        return row
    retried = MailSend.objects.filter(pk=row.pk, status=MailSend.Status.FAILED).update(
        status=MailSend.Status.SENDING, attempts=F("attempts") + 1, to_address=user.email, error=""
    )
    if not retried:
        return None
    row.refresh_from_db()
    return row


def _message(
    *, content: selectors.MailContent, to: str, unsubscribe: str, connection: Any
) -> mail.EmailMultiAlternatives:
    message = mail.EmailMultiAlternatives(
        subject=content.subject,
        body=content.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[to],
        connection=connection,
        headers={
            # RFC 2369 and RFC 8058: mail clients show an unsubscribe button that posts to the signed link.
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(content.html, "text/html")
    return message


def _send_period(
    *,
    users: list[Any],
    kind: str,
    period: str,
    build: Callable[[Any], selectors.MailContent | None],
    now: dt.datetime,
    dry_run: bool,
) -> list[SendResult]:
    """Send one period's mail of `kind` to each user at most once (see MailSend); `build` makes a user's mail,
    None when there is nothing to say. A server that refuses marks the send failed (retried next run)."""
    results: list[SendResult] = []
    if dry_run:
        done = set(
            MailSend.objects.filter(kind=kind, period=period)
            .exclude(status=MailSend.Status.FAILED)
            .values_list("user_id", flat=True)
        )
        return [
            SendResult(u.username, u.email, kind, period, "already" if u.pk in done else "would_send")
            for u in users
        ]
    # One connection for the run, opened by the first send: a server that cannot be reached fails each send
    # (recorded, retried next run) instead of the run.
    connection = mail.get_connection(fail_silently=False)
    try:
        for user in users:
            row = _claim(user=user, kind=kind, period=period, now=now)
            if row is None:
                results.append(SendResult(user.username, user.email, kind, period, "already"))
                continue
            content = build(user)
            if content is None:
                MailSend.objects.filter(pk=row.pk).update(status=MailSend.Status.EMPTY)
                results.append(SendResult(user.username, user.email, kind, period, "empty"))
                continue
            unsubscribe = selectors.unsubscribe_url(user_id=user.pk, kind=kind)
            try:
                _message(
                    content=content, to=user.email, unsubscribe=unsubscribe, connection=connection
                ).send()
            except (OSError, mail.BadHeaderError) as exc:  # smtplib's errors are OSErrors
                error = f"{type(exc).__name__}: {exc}"[:2000]
                MailSend.objects.filter(pk=row.pk).update(status=MailSend.Status.FAILED, error=error)
                event_record(
                    kind="mail.failed",
                    subject=row,
                    data={"kind": kind, "period": period, "to": user.email, "error": error},
                )
                results.append(SendResult(user.username, user.email, kind, period, "failed", error))
                continue
            MailSend.objects.filter(pk=row.pk).update(status=MailSend.Status.SENT, sent_at=timezone.now())
            event_record(
                kind="mail.sent",
                subject=row,
                data={"kind": kind, "period": period, "to": user.email, "subject": content.subject},
            )
            results.append(SendResult(user.username, user.email, kind, period, "sent"))
    finally:
        with contextlib.suppress(OSError):  # the server went away mid-run: nothing left to close
            connection.close()
    return results


def _users(kind: str, username: str) -> list[Any]:
    users = selectors.mail_subscribers(kind=kind, username=username)
    if username and not users:
        known = get_user_model().objects.filter(username=username).first()
        if known is None:
            raise NotFound(f"no user named {username!r}", field="to", value=username)
        why = (
            "has no e-mail address"
            if not known.email
            else "is not active"
            if not known.is_active
            else "has opted out"
        )
        raise NotAllowed(
            f"{username} gets no {MailKind(kind).label.lower()}: {why}.", field="to", value=username
        )
    return users


def weekly_reports_send(
    *, now: dt.datetime | None = None, username: str = "", dry_run: bool = False
) -> list[SendResult]:
    """E-mail last complete week's alignment report to each subscriber (or only `username`), once per week."""
    moment = now or timezone.now()
    today = timezone.localdate(moment)
    monday = weekly_week(today=today)
    period = monday.isoformat()
    users = _users(MailKind.WEEKLY_REPORT, username)
    sent_before = set(
        MailSend.objects.filter(kind=MailKind.WEEKLY_REPORT, period=period)
        .exclude(status=MailSend.Status.FAILED)
        .values_list("user_id", flat=True)
    )
    if not dry_run and all(
        u.pk in sent_before for u in users
    ):  # the common case of a repeated run: no report built
        return [SendResult(u.username, u.email, MailKind.WEEKLY_REPORT, period, "already") for u in users]
    data = kpi_data_cached(as_of=today)

    def build(user: Any) -> selectors.MailContent:
        # The figures are the company's; the top wins are the deals this reader may see.
        report = weekly_report_get(week=monday, today=today, now=moment, data=data, user=user)
        return selectors.weekly_mail_content(report=report, user=user)

    return _send_period(
        users=users, kind=MailKind.WEEKLY_REPORT, period=period, build=build, now=moment, dry_run=dry_run
    )


def sla_digests_send(
    *, now: dt.datetime | None = None, username: str = "", dry_run: bool = False
) -> list[SendResult]:
    """E-mail each subscriber their SLA digest for today (nothing when no MQL is near or past its deadline)."""
    moment = now or timezone.now()
    day = timezone.localdate(moment)

    def build(user: Any) -> selectors.MailContent | None:
        digest = selectors.sla_digest_get(user=user, now=moment)
        return selectors.digest_mail_content(digest=digest, user=user, day=day) if digest["items"] else None

    users = _users(MailKind.SLA_DIGEST, username)
    return _send_period(
        users=users,
        kind=MailKind.SLA_DIGEST,
        period=day.isoformat(),
        build=build,
        now=moment,
        dry_run=dry_run,
    )


def scheduled_mail_run(*, now: dt.datetime | None = None) -> list[SendResult]:
    """What the worker runs every quarter hour: the weekly report on Mondays and the digest on weekdays, from
    TANDEM_MAIL_HOUR (installation time) on; each period goes out once, so a late or restarted worker catches
    up the same day without repeating a send. Nothing without SMTP."""
    if not selectors.mail_configured():
        return []
    moment = now or timezone.now()
    local = timezone.localtime(moment)
    if local.hour < settings.MAIL_HOUR:
        return []
    results: list[SendResult] = []
    if local.weekday() == 0:
        results += weekly_reports_send(now=moment)
    if local.weekday() < 5:
        results += sla_digests_send(now=moment)
    return results


# --- content e-mailed with a tracked link (enablement's "Send") -----------------------------------------------

SEND_LABEL = "e-mailed with a tracked link"
CLICK_KIND = "email_click"


def content_email_check(*, asset: Asset, person: Any) -> None:
    """Refuse to e-mail content to a person without e-mail consent or an address (before anything is written)."""
    if not person.consent_email:
        raise NotAllowed(
            f"{person} has not given consent to e-mail; Tandem e-mails content only to people who have. "
            "Record the consent first (person page), or send it yourself.",
            field="person_id",
            value=person.pk,
        )
    if not person.email:
        raise ValidationFailed(
            f"{person} has no e-mail address to send '{asset.title}' to.", field="person_id", value=person.pk
        )


def content_email_queue(*, use: ContentUse, by_user: Any = None) -> TrackedLink:
    """Inside the send's transaction: the tracked link, and the mail queued for the worker after commit."""
    link = TrackedLink.objects.create(use=use, to_address=use.person.email, created_at=timezone.now())
    task_enqueue_on_commit(task="tandem.integrations.mail.tasks.content_email_task", args=[link.pk])
    return link


def content_delivery() -> SendDelivery | None:
    """Enablement's delivery provider (enablement/registry.py): e-mail when SMTP is configured, else none."""
    if not selectors.mail_configured():
        return None
    return SendDelivery(label=SEND_LABEL, check=content_email_check, deliver=content_email_queue)


def content_email_send(*, link_id: int) -> str:
    """E-mail a queued asset with its tracked link (the worker runs this); the link's status says what happened.
    Only a queued link is sent, so a repeated task does not mail twice. Returns the status."""
    claimed = TrackedLink.objects.filter(pk=link_id, status=TrackedLink.Status.QUEUED).update(
        status=TrackedLink.Status.SENT
    )
    link = (
        TrackedLink.objects.select_related("use__asset", "use__person", "use__used_by")
        .filter(pk=link_id)
        .first()
    )
    if link is None or not claimed:
        return link.status if link is not None else "gone"
    use, asset, person = link.use, link.use.asset, link.use.person
    rep = use.used_by
    context = {
        "asset": asset,
        "person": person,
        "rep": rep,
        "note": use.note,
        "link_url": absolute_url(f"/l/{link_token(link_id=link.pk)}"),
    }
    message = mail.EmailMultiAlternatives(
        subject=asset.title,
        body=render_to_string("integrations/mail/content.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[link.to_address],
        reply_to=[rep.email] if rep is not None and rep.email else None,
    )
    message.attach_alternative(render_to_string("integrations/mail/content.html", context), "text/html")
    try:
        message.send()
    except (OSError, mail.BadHeaderError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        TrackedLink.objects.filter(pk=link.pk).update(status=TrackedLink.Status.FAILED, error=error)
        event_record(
            kind="integrations.content_email_failed",
            subject=person,
            data={"use_id": use.pk, "link_id": link.pk, "error": error},
        )
        return TrackedLink.Status.FAILED
    TrackedLink.objects.filter(pk=link.pk).update(emailed_at=timezone.now())
    event_record(
        kind="integrations.content_emailed",
        subject=person,
        actor=rep,
        data={"use_id": use.pk, "link_id": link.pk, "asset_id": asset.pk, "to": link.to_address},
    )
    return TrackedLink.Status.SENT


@transaction.atomic
def tracked_link_open(*, token: str, now: dt.datetime | None = None) -> Asset:
    """Someone opened a tracked link: count the click and, the first time, record an "email_click" touchpoint
    on the person (an event records every click). Returns the asset to lead them to; NotFound for a link that
    is not ours or whose send was erased, NotAllowed (410) for an asset that expired since."""
    moment = now or timezone.now()
    link_id = link_token_read(token=token)
    link = (
        TrackedLink.objects.select_for_update()
        .select_related("use__asset", "use__person")
        .filter(pk=link_id)
        .first()
    )
    if link is None:
        raise NotFound("This link is not valid.", field="token", value=token[:40])
    use, asset, person = link.use, link.use.asset, link.use.person
    if asset.expires_on is not None and asset.expires_on < timezone.localdate(moment):
        raise LinkExpired(f"'{asset.title}' is no longer available.", field="token", value=token[:40])
    first = link.clicks == 0
    TrackedLink.objects.filter(pk=link.pk).update(
        clicks=F("clicks") + 1, last_clicked_at=moment, first_clicked_at=link.first_clicked_at or moment
    )
    touchpoint_id = None
    if first:
        touchpoint_id = touchpoint_record(
            person=person,
            kind=CLICK_KIND,
            channel="outbound",
            occurred_at=moment,
            url=asset.url or f"asset:{asset.pk}",
            custom_fields={"asset_id": asset.pk, "asset_title": asset.title, "use_id": use.pk},
            update_latest=False,
        ).pk
    event_record(
        kind="integrations.link_clicked",
        subject=person,
        occurred_at=moment,
        data={
            "asset_id": asset.pk,
            "use_id": use.pk,
            "link_id": link.pk,
            "clicks": link.clicks + 1,
            "touchpoint_id": touchpoint_id,
        },
    )
    return asset


class LinkExpired(NotAllowed):
    status_code = 410


# ---- personal data (tandem.privacy): erasing one person's tracked links ----


def tracked_links_erase_person(*, person_id: int) -> int:
    """Delete the tracked links of content sent to the person (they hold the address it went to): the link in
    that mail answers 404 from then on; the sends themselves stay with enablement's uses."""
    deleted, _ = TrackedLink.objects.filter(use__person_id=person_id).delete()
    return deleted
