"""How the dashboard and the weekly report show numbers; shared by the pages and `tandem report weekly`."""

from __future__ import annotations

from typing import Any


def fmt(value: float | None, unit: str) -> str:
    """A KPI value for people: 1,234 · $12,300 · 23.5%."""
    if value is None:
        return "—"
    if unit == "rate":
        return f"{100 * value:.1f}%"
    if unit == "money":
        return f"${value:,.0f}"
    return f"{value:,.0f}"


def weekly_context(report: dict[str, Any]) -> dict[str, Any]:
    """What the weekly templates need beside the report (shared by the page and `tandem report weekly`)."""
    totals = [
        ("Leads", report["came_in"]["leads"], "count"),
        ("MQLs", report["came_in"]["mqls"], "count"),
        ("SQLs", report["converted"]["sqls"], "count"),
        ("Deals won", report["converted"]["wins"], "count"),
        ("Revenue", report["converted"]["revenue"], "money"),
        ("Pipeline created", report["converted"]["pipeline"], "money"),
    ]
    return {
        "report": report,
        "totals": [
            {
                "label": label,
                "this_week": fmt(t["this_week"], unit),
                "previous_week": fmt(t["previous_week"], unit),
                "previous_average": fmt(t["previous_average"], unit),
                "change_pct": t["change_pct"],
            }
            for label, t, unit in totals
        ],
        "changes": [
            {**c, "this_text": fmt(c["this_week"], c["unit"]), "avg_text": fmt(c["previous_average"], c["unit"])} for c in report["changes"]
        ],
        "wins": [{**w, "amount_text": fmt(w["amount"], "money")} for w in report["top_wins"]],
    }
