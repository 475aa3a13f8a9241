"""Roles are Django groups; this module says which permissions each role's group carries."""

from __future__ import annotations

from typing import Any

from tandem.users.models import Role

# Apps whose every model a role may fully manage / only view. Codenames are matched as "<action>_<model>".
_ALL_APPS = (
    "crm",
    "lifecycle",
    "campaigns",
    "capture",
    "scoring",
    "feedback",
    "enablement",
    "analytics",
    "integrations",
    "users",
    "core",
)

ROLE_RULES: dict[str, dict[str, Any]] = {
    Role.ADMIN: {"manage_apps": (*_ALL_APPS, "auth"), "view_apps": ()},
    Role.MARKETING: {
        "manage_apps": ("campaigns", "capture", "enablement", "scoring"),
        "manage_models": (
            "crm.person",
            "crm.account",
            "feedback.question",
            "feedback.theme",
            "feedback.themespace",
        ),
        "view_apps": _ALL_APPS,
    },
    Role.SALES_MANAGER: {
        "manage_apps": ("crm", "feedback"),
        "manage_models": ("crm.stagechange",),
        "view_apps": _ALL_APPS,
    },
    Role.SALES_REP: {
        "manage_models": (
            "crm.person",
            "crm.deal",
            "crm.activity",
            "feedback.question",
            "feedback.leadrating",
        ),
        "view_apps": _ALL_APPS,
    },
    Role.VIEWER: {"view_apps": _ALL_APPS},
}


def role_permission_filter(role: str) -> list[tuple[str, str | None, str | None]]:
    """(app_label, model or None, action or None) triples that the role's group gets."""
    rules = ROLE_RULES[role]
    out: list[tuple[str, str | None, str | None]] = []
    for app in rules.get("manage_apps", ()):
        out.append((app, None, None))
    for dotted in rules.get("manage_models", ()):
        app, model = dotted.split(".")
        out.append((app, model, None))
    for app in rules.get("view_apps", ()):
        out.append((app, None, "view"))
    return out


def roles_sync(*, apps_registry: Any = None) -> None:
    """Create one group per role and give it its permissions (idempotent; new models are picked up)."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    registry = apps_registry or global_apps
    # Permissions are normally created after migrate; create them now so the groups can hold them.
    for config in global_apps.get_app_configs():
        create_permissions(config, verbosity=0, apps=registry)
    Group = registry.get_model("auth", "Group")
    Permission = registry.get_model("auth", "Permission")
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.label)
        wanted: set[int] = set()
        for app, model, action in role_permission_filter(role):
            qs = Permission.objects.filter(content_type__app_label=app)
            if model:
                qs = qs.filter(content_type__model=model)
            if action:
                qs = qs.filter(codename__startswith=f"{action}_")
            wanted.update(qs.values_list("id", flat=True))
        group.permissions.set(sorted(wanted))
