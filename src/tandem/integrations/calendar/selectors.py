"""Reads for calendar feeds: whose feed a token opens, and the feed itself as iCalendar (RFC 5545): campaigns
with their dates, promotions' offer end dates, and the user's open tasks."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
from django.conf import settings
from django.utils import timezone

from tandem.campaigns.calendar import offer_ends
from tandem.campaigns.models import Campaign
from tandem.campaigns.selectors import campaign_calendar
from tandem.core.errors import NotFound
from tandem.core.links import absolute_url
from tandem.crm.models import Task
from tandem.integrations.calendar.models import CalendarFeed
from tandem.integrations.calendar.services import token_hash
from tandem.users.access import access_seen

# What the feed spans: the last quarter (recent campaigns and overdue tasks stay visible) and the year ahead.
DAYS_BACK = 90
DAYS_AHEAD = 365
# A task is a reminder at its due time; calendar apps show it as a short appointment.
TASK_MINUTES = 15
TOKEN_MAX = 100


def calendar_feed_of(*, user: Any) -> CalendarFeed | None:
    """The user's live feed (None when they have none)."""
    return CalendarFeed.objects.filter(user_id=user.pk, revoked_at__isnull=True).first()


def calendar_feed_by_token(*, token: str) -> CalendarFeed:
    """The live feed a token opens, with its user; NotFound for an unknown or revoked token, or an inactive user."""
    feed = None
    if 0 < len(token) <= TOKEN_MAX:
        feed = (
            CalendarFeed.objects.select_related("user")
            .filter(token_hash=token_hash(token), revoked_at__isnull=True)
            .first()
        )
    if feed is None or not feed.user.is_active:
        raise NotFound("No such calendar feed.", field="token", value=token[:6])
    return feed


def _zone(user: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(getattr(user, "time_zone", "") or settings.TIME_ZONE))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _host() -> str:
    # UIDs are "<kind>-<id>@<host>": the same record keeps its UID, so calendar apps update it in place.
    return urlsplit(settings.BASE_URL).hostname or "tandem"


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC)


def _campaign_events(campaign: Campaign, host: str) -> list[icalendar.Event]:
    events = []
    start = campaign.started_on
    assert start is not None  # the calendar lists dated campaigns only
    end = campaign.ended_on or start
    event = icalendar.Event()
    event.add("uid", f"campaign-{campaign.pk}@{host}")
    event.add("dtstamp", _utc(campaign.updated_at))
    event.add("last-modified", _utc(campaign.updated_at))
    # All-day: DATE values, the end exclusive (RFC 5545 3.6.1).
    event.add("dtstart", start)
    event.add("dtend", end + dt.timedelta(days=1))
    event.add("summary", f"{campaign.get_kind_display()}: {campaign.name}")
    lines = [f"Channel: {campaign.channel}"]
    if campaign.ended_on is None:
        lines.append("Open-ended: no end date yet.")
    if campaign.offer:
        lines.append(f"Offer: {campaign.offer}")
    lines += [f"- {point}" for point in campaign.talking_point_list]
    event.add("description", "\n".join(lines))
    event.add("categories", [campaign.get_kind_display()])
    event.add("url", absolute_url(f"/campaigns/{campaign.pk}/"))
    event.add("transp", "TRANSPARENT")  # a campaign does not make anyone busy
    events.append(event)
    ends = offer_ends(offer=campaign.offer, offer_ends_on=campaign.offer_ends_on, ended_on=campaign.ended_on)
    if ends is not None:
        offer = icalendar.Event()
        offer.add("uid", f"offer-{campaign.pk}@{host}")
        offer.add("dtstamp", _utc(campaign.updated_at))
        offer.add("last-modified", _utc(campaign.updated_at))
        offer.add("dtstart", ends)
        offer.add("dtend", ends + dt.timedelta(days=1))
        offer.add("summary", f"Offer ends: {campaign.offer} ({campaign.name})")
        offer.add(
            "description", f"Last day of the offer of {campaign.get_kind_display().lower()} {campaign.name}."
        )
        offer.add("categories", ["Offer"])
        offer.add("url", absolute_url(f"/campaigns/{campaign.pk}/"))
        offer.add("transp", "TRANSPARENT")
        events.append(offer)
    return events


def _task_event(task: Task, zone: ZoneInfo, host: str) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", f"task-{task.pk}@{host}")
    event.add("dtstamp", _utc(task.updated_at))
    event.add("last-modified", _utc(task.updated_at))
    # In the user's own time zone (a VTIMEZONE is added for it), so the app shows it at the hour they set.
    due = task.due_at.astimezone(zone)
    event.add("dtstart", due)
    event.add("dtend", due + dt.timedelta(minutes=TASK_MINUTES))
    event.add("summary", f"Task: {task.title}")
    lines = [task.notes] if task.notes else []
    if task.person_id:
        lines.append(f"About: {task.person} {absolute_url(f'/people/{task.person_id}/')}")
    if lines:
        event.add("description", "\n".join(lines))
    event.add("categories", ["Task"])
    event.add("url", absolute_url("/tasks/"))
    if task.priority == Task.Priority.HIGH:
        event.add("priority", 1)
    return event


def calendar_ics(*, user: Any, today: dt.date | None = None) -> bytes:
    """The user's feed as iCalendar: active dated campaigns, promotions' and campaigns' offer end dates (all-day),
    and the user's own open tasks (timed, in their time zone) from DAYS_BACK days ago to DAYS_AHEAD ahead."""
    day = today or timezone.localdate()
    first, last = day - dt.timedelta(days=DAYS_BACK), day + dt.timedelta(days=DAYS_AHEAD)
    zone = _zone(user)
    host = _host()
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Tandem//Sales and marketing calendar//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", "Tandem")
    cal.add("x-wr-timezone", str(zone))
    for campaign in campaign_calendar(first=first, last=last, today=day):
        for event in _campaign_events(campaign, host):
            cal.add_component(event)
    start = dt.datetime.combine(first, dt.time(), tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    # Only the user's own open tasks, and only those their reach allows (tandem.users.access).
    tasks = access_seen(
        Task.objects.filter(owner_id=user.pk, done_at__isnull=True, due_at__gte=start, due_at__lt=end),
        user=user,
    )
    for task in tasks.select_related("person").order_by("due_at", "id"):
        cal.add_component(_task_event(task, zone, host))
    cal.add_missing_timezones()
    return cal.to_ical()
