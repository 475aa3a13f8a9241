"""Every write of calendar feeds: making a user's secret address (or a new one in its place), revoking it, and
noting when a calendar app last fetched it."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.db import transaction
from django.utils import timezone

from tandem.core.events import event_record
from tandem.integrations.calendar.models import CalendarFeed

# A calendar app polls every few minutes to hours; the fetch time is written at most this often.
FETCH_NOTED_EVERY = dt.timedelta(minutes=15)


def token_hash(token: str) -> str:
    """What is stored of a feed token: its SHA-256."""
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def calendar_feed_create(*, user: Any, by_user: Any = None) -> tuple[CalendarFeed, str]:
    """Give the user a new secret feed address, revoking the one they had. Returns (feed, token): the token is
    shown once, only its hash is kept."""
    now = timezone.now()
    revoked = CalendarFeed.objects.filter(user_id=user.pk, revoked_at__isnull=True).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed.objects.create(
        user_id=user.pk, token_hash=token_hash(token), prefix=token[:6], created_at=now
    )
    event_record(
        kind="calendar.feed_regenerated" if revoked else "calendar.feed_created",
        subject=feed,
        actor=by_user,
        data={"user_id": user.pk, "prefix": feed.prefix},
    )
    return feed, token


@transaction.atomic
def calendar_feed_revoke(*, user: Any, by_user: Any = None) -> int:
    """Revoke the user's feed address: calendar apps get 404 from then on. Returns how many were live (0 or 1)."""
    feeds = list(CalendarFeed.objects.select_for_update().filter(user_id=user.pk, revoked_at__isnull=True))
    now = timezone.now()
    for feed in feeds:
        feed.revoked_at = now
        feed.save(update_fields=["revoked_at"])
        event_record(
            kind="calendar.feed_revoked",
            subject=feed,
            actor=by_user,
            data={"user_id": user.pk, "prefix": feed.prefix},
        )
    return len(feeds)


def calendar_feed_fetched(*, feed: CalendarFeed, now: dt.datetime | None = None) -> None:
    """Note that the feed was fetched (at most every FETCH_NOTED_EVERY, so polling does not write each time)."""
    moment = now or timezone.now()
    if feed.last_fetched_at is None or moment - feed.last_fetched_at >= FETCH_NOTED_EVERY:
        CalendarFeed.objects.filter(pk=feed.pk).update(last_fetched_at=moment)
