"""Navigation shown in the base layout, filtered by the user's role."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

NAV: list[tuple[str, str, frozenset[str] | None]] = [
    # (label, url name, roles that see it; None = everyone signed in)
    ("Home", "home", None),
    ("People", "crm:people", None),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    role = getattr(user, "role", "")
    items = [
        (label, name) for label, name, roles in NAV if roles is None or role in roles or user.is_superuser
    ]
    return {"nav_items": items}
