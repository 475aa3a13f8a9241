"""The reports' option values (segments, attribution models): plain data, so `tandem report --help` lists them
without importing the selectors (numpy and the ORM queries behind them). tandem.analytics.reports.selectors
re-exports them."""

from __future__ import annotations

SEGMENT_FIELDS: dict[str, str] = {
    "channel": "original_channel",
    "campaign": "original_campaign__name",
    "industry": "account__industry",
    "size_band": "account__size_band",
    "country": "account__country",
    "job_title": "job_title",
    "owner": "owner__username",
}
ATTRIBUTION_BY: tuple[str, ...] = ("channel", "campaign")
REPORT_MODELS: tuple[str, ...] = (
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position",
    "w_shaped",
    "markov",
    "shapley",
    "incremental",
)
