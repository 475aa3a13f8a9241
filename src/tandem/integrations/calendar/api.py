"""REST endpoints of calendar feeds: the caller's own secret feed address."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from tandem.core.errors import NotFound
from tandem.integrations.calendar import selectors, services
from tandem.integrations.calendar.views import feed_url

router = Router(tags=["calendar"])


class CalendarFeedOut(Schema):
    prefix: str = Field(..., description="the address's first characters after /calendar/")
    created_at: dt.datetime
    last_fetched_at: dt.datetime | None


class CalendarFeedErrorOut(Schema):
    # Declares the 404 of "you have no feed"; the body is the API's one `Error` (docs/api.md#errors).
    detail: str
    field: str | None = None
    value: str | None = None


class CalendarFeedCreatedOut(CalendarFeedOut):
    url: str = Field(..., description="the feed address; shown only in this answer (only its hash is kept)")


@router.get("/calendar/feed", response={200: CalendarFeedOut, 404: CalendarFeedErrorOut})
def feed_get(request: HttpRequest) -> Any:
    """Your live calendar feed (404 when you have none); the address itself is shown only when made."""
    feed = selectors.calendar_feed_of(user=request.user)
    if feed is None:
        raise NotFound(
            "You have no calendar feed: POST /api/calendar/feed makes one.", field="feed", value="none"
        )
    return feed


@router.post("/calendar/feed", response={201: CalendarFeedCreatedOut})
def feed_create(request: HttpRequest) -> Status:
    """Make your calendar feed address, or a new one in place of the old (which stops working at once)."""
    feed, token = services.calendar_feed_create(user=request.user, by_user=request.user)
    return Status(
        201,
        {
            "prefix": feed.prefix,
            "created_at": feed.created_at,
            "last_fetched_at": None,
            "url": feed_url(token),
        },
    )


@router.delete("/calendar/feed", response={204: None, 404: CalendarFeedErrorOut})
def feed_revoke(request: HttpRequest) -> Status:
    """Revoke your calendar feed address: it answers 404 from then on (404 here when you had none)."""
    if not services.calendar_feed_revoke(user=request.user, by_user=request.user):
        raise NotFound("You have no calendar feed to revoke.", field="feed", value="none")
    return Status(204, None)
