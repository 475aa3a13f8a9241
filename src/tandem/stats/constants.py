"""Constants of the numeric modules that option parsers need: plain Python (no numpy), so `tandem report --help`
can list them. tandem.stats.funnel and tandem.stats.economics re-export them."""

from __future__ import annotations

PERIODS: tuple[str, ...] = ("month", "quarter")  # funnel cohorts
DEFAULT_HORIZON = 24  # LTV horizon, months
