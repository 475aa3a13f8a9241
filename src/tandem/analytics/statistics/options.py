"""The statistics reports' option values: plain data, so `tandem report spc|segments --help` lists them without
importing the selectors (numpy, django-ninja). tandem.analytics.statistics.selectors re-exports them."""

from __future__ import annotations

SPC_METRICS = ("volume", "mql_rate", "sql_rate", "win_rate")
SPC_BY = ("channel", "campaign", "all")
SEGMENT_FIELDS = ("industry", "size_band", "country", "job_title", "channel", "campaign", "persona")
SEGMENT_METRICS = ("won", "sql")
