"""The channel and touch vocabulary: people's sources (crm), campaigns and touchpoints all speak it."""

from __future__ import annotations

CHANNELS: list[tuple[str, str]] = [
    ("organic_search", "Organic search"),
    ("paid_search", "Paid search"),
    ("paid_social", "Paid social"),
    ("organic_social", "Organic social"),
    ("email", "Email"),
    ("webinar", "Webinar"),
    ("events", "Events"),
    ("content", "Content"),
    ("referral", "Referral"),
    ("partner", "Partner"),
    ("direct", "Direct"),
    ("display", "Display"),
    ("outbound", "Outbound"),
    ("other", "Other"),
]
CHANNEL_LABELS = dict(CHANNELS)

TOUCHPOINT_KINDS: list[tuple[str, str]] = [
    ("page_view", "Page view"),
    ("form_submit", "Form submitted"),
    ("email_open", "Email opened"),
    ("email_click", "Email clicked"),
    ("ad_click", "Ad clicked"),
    ("webinar", "Webinar attended"),
    ("event_visit", "Event visit"),
    ("content_download", "Content downloaded"),
    ("content_sent", "Content sent by a rep"),
    ("demo_request", "Demo requested"),
    ("call", "Call"),
    ("chat", "Chat"),
    ("other", "Other"),
]
KIND_LABELS = dict(TOUCHPOINT_KINDS)


def channel_label(slug: str) -> str:
    return CHANNEL_LABELS.get(slug, slug.replace("_", " ").capitalize() if slug else "—")
