"""The demo company's audiences: a newsletter of MQLs and the healthcare MQLs who asked about pricing."""

from __future__ import annotations

from typing import Any

from tandem.audiences.services import audience_create
from tandem.feedback.models import Theme


def audiences_demo_seed(*, users: dict[str, Any]) -> int:
    """Two audiences saved by marketing (their members are synced by the worker, as after any edit)."""
    by = users["marketing"]
    audience_create(
        name="MQL newsletter",
        description="Every MQL who agreed to e-mail: the monthly product letter.",
        spec={"consent": "email", "criteria": [{"type": "stage", "stages": ["mql"]}]},
        by_user=by,
    )
    criteria: list[dict[str, Any]] = [
        {"type": "stage", "stages": ["mql", "sal"]},
        {"type": "segment", "field": "industry", "values": ["Healthcare"]},
    ]
    # The mined theme closest to pricing, when mining found one (labels come from the questions' words).
    pricing = Theme.objects.filter(retired_at__isnull=True, label__icontains="pric").order_by("id").first()
    if pricing is not None:
        criteria.append({"type": "theme", "theme_ids": [pricing.pk]})
    audience_create(
        name="Healthcare pricing questions",
        description="Healthcare MQLs and SALs who asked about pricing: the pricing webinar invitation.",
        spec={"consent": "email", "criteria": criteria},
        by_user=by,
    )
    return 2
