"""What a CSV import's rows can be: plain data, shared by the mapping code and `tandem import --help`."""

from __future__ import annotations

KINDS = ("people", "touchpoints", "deals", "activities")
