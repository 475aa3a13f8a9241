"""The economics reports' option values (LTV segments, tables): plain data, so `tandem report economics|ltv --help`
lists them without importing the selectors (numpy). tandem.analytics.economics.selectors re-exports them."""

from __future__ import annotations

# LTV rows: per source (the report's channel / campaign, with spend and CAC) or per account field (no spend).
ACCOUNT_SEGMENTS: dict[str, str] = {"industry": "industry", "size_band": "size_band", "country": "country"}
LTV_SEGMENTS: tuple[str, ...] = ("source", *ACCOUNT_SEGMENTS)

# ---- the reports' tables, as pages, CSV downloads and `tandem report economics|ltv` show them ----

TABLES: dict[str, tuple[str, ...]] = {
    "costs": ("key", "spend", "leads", "mqls", "sqls", "customers", "cost_per_lead", "cost_per_mql", "cost_per_sql", "cac"),
    "roi": ("key", "spend", "conversions", "revenue", "roi"),
    "ltv": ("key", "spend", "customers", "repeat_rate", "average_value", "ltv", "cac", "ltv_to_cac", "payback_months"),
    "lead_value": ("key", "leads", "revenue", "value_per_lead", "expected_value", "scored"),
}  # fmt: skip
