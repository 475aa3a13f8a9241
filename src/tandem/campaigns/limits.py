"""Page sizes of the campaign and cost lists: plain constants, so `tandem campaign --help` shows the defaults
without importing the selectors (and django-ninja behind them)."""

from __future__ import annotations

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
COST_PAGE_SIZE = 20
