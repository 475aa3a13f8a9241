"""The audit log's page sizes: plain constants, so `tandem audit --help` shows them without importing the
selectors (and the e-mail and phone validators behind them)."""

from __future__ import annotations

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
