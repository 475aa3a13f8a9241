"""Template tags for hand-off sections shown on other apps' pages."""

from __future__ import annotations

from typing import Any

from django import template

from tandem.lifecycle.selectors import campaign_rejections as rejections_for

register = template.Library()


@register.inclusion_tag("lifecycle/partials/campaign_rejections.html")
def campaign_rejections(campaign: Any) -> dict[str, Any]:
    """Sales' rejections of this campaign's MQLs, by reason (for marketing)."""
    rows = rejections_for(campaign_id=campaign.pk)
    return {"rows": rows, "total": sum(r.count for r in rows)}
