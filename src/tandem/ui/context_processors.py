"""Navigation shown in the base layout, filtered by the user's role."""

from __future__ import annotations

from typing import Any, NamedTuple

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse


class NavItem(NamedTuple):
    label: str
    url_name: str
    # Roles that see the item (Role values); None means everyone signed in. Superusers see everything.
    roles: frozenset[str] | None = None


# Later features append their own entries here, e.g. NAV.append(NavItem("Campaigns", "campaigns:list")).
# Plain (label, url name, roles) tuples work too.
NAV: list[tuple[str, str, frozenset[str] | None]] = [
    NavItem("Home", "home"),
    NavItem("Tasks", "agenda:mine", frozenset({"admin", "sales_manager", "sales_rep"})),
    NavItem("Dashboard", "analytics:dashboard"),
    NavItem("People", "crm:people"),
    NavItem("Activities", "activities:list"),
    NavItem("Accounts", "accounts:list"),
    NavItem("Pipeline", "pipelines:home"),
    NavItem("Duplicates", "crm:duplicates", frozenset({"admin", "marketing", "sales_manager"})),
    NavItem("Campaigns", "campaigns:list"),
    NavItem("Calendar", "campaigns:calendar"),
    NavItem("Requests", "collateral:mine", frozenset({"sales_rep", "sales_manager"})),
    NavItem("Board", "collateral:board", frozenset({"admin", "marketing"})),
    NavItem("Audiences", "audiences:list", frozenset({"admin", "marketing"})),
    NavItem("Reports", "analytics:funnel"),
    NavItem("Definitions", "lifecycle:definitions"),
    NavItem("Inbox", "lifecycle:inbox", frozenset({"admin", "sales_manager", "sales_rep"})),
    NavItem("SLA", "lifecycle:sla"),
    NavItem("Statistics", "stats:spc"),
    NavItem("Queue", "scoring:queue", frozenset({"sales_rep", "sales_manager"})),
    NavItem("Scoring", "scoring:model", frozenset({"admin", "marketing", "sales_manager"})),
    NavItem("Library", "enablement:library"),
    NavItem("Themes", "feedback:themes"),
    NavItem("Lost reasons", "crm:lost-reasons", frozenset({"admin", "sales_manager"})),
    NavItem("Forms", "intake:forms", frozenset({"admin", "marketing"})),
    NavItem("Journal", "intake:journal", frozenset({"admin", "marketing"})),
    NavItem("Imports", "capture:imports", frozenset({"admin", "marketing"})),
    NavItem("Data", "capture:data", frozenset({"admin"})),
    NavItem("Audit log", "audit:log", frozenset({"admin"})),
    NavItem("Django admin", "admin:index", frozenset({"admin"})),
]


def _is_active(path: str, url: str) -> bool:
    # Home redirects to /home/<role>/, so it counts as active there; other items own their URL prefix.
    if url == "/":
        return path == "/" or path.startswith("/home/")
    return path.startswith(url)


def navigation(request: HttpRequest) -> dict[str, Any]:
    """The nav items this user may see, each with its URL and whether it is the current section."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    role = getattr(user, "role", "")
    items: list[dict[str, Any]] = []
    for label, name, roles in NAV:
        if roles is None or role in roles or user.is_superuser:
            try:
                url = reverse(name)
            except NoReverseMatch:  # a section whose app is not installed in this deployment
                continue
            items.append({"label": label, "url": url, "active": _is_active(request.path, url)})
    # Nested sections (/people/duplicates/ inside /people/): only the most specific match is current.
    active = [item for item in items if item["active"]]
    if len(active) > 1:
        best = max(active, key=lambda item: len(str(item["url"])))
        for item in active:
            item["active"] = item is best
    return {"nav_items": items}
