"""The demo company's default size: a plain constant, so `tandem demo --help` shows it without importing the
generator (and numpy)."""

from __future__ import annotations

# The generator is tuned at this size; fixed campaign costs and question volume scale with the people count.
DEFAULT_PEOPLE = 20000
