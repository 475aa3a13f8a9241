"""Roles are Django groups; this module says which permissions each role's group carries."""

from __future__ import annotations

from typing import Any

from tandem.users.models import Role


def our_app_labels() -> tuple[str, ...]:
    """Tandem's own apps, as INSTALLED_APPS lists them: the one list of apps, read from the app registry."""
    from django.apps import apps

    return tuple(c.label for c in apps.get_app_configs() if c.name.startswith("tandem."))


# Role rules name apps; ALL stands for every app of ours (read from the registry when the rules are applied).
ALL = "*"

ROLE_RULES: dict[str, dict[str, Any]] = {
    Role.ADMIN: {"manage_apps": (ALL, "auth"), "view_apps": ()},
    Role.MARKETING: {
        "manage_apps": ("campaigns", "capture", "enablement", "scoring", "audiences"),
        "manage_models": (
            "crm.person",
            "crm.account",
            "feedback.question",
            "feedback.theme",
            "feedback.themespace",
        ),
        # Marketing proposes changes to the hand-off's definitions, routing and SLA; an approver publishes them.
        "add_models": ("lifecycle.changeproposal",),
        "view_apps": (ALL,),
    },
    Role.SALES_MANAGER: {
        "manage_apps": ("crm", "feedback"),
        "manage_models": ("crm.stagechange",),
        "add_models": ("lifecycle.changeproposal",),
        "view_apps": (ALL,),
    },
    Role.SALES_REP: {
        "manage_models": (
            "crm.person",
            # Reps add and correct the companies they sell to, as they do people and deals.
            "crm.account",
            "crm.deal",
            "crm.activity",
            # A rep keeps their own tasks (crm.agenda limits them to their own; managers reassign).
            "crm.task",
            "feedback.question",
            "feedback.leadrating",
        ),
        "view_apps": (ALL,),
    },
    Role.VIEWER: {"view_apps": (ALL,)},
}


# Permissions an admin grants to a role (or a user) while Tandem runs, e.g. letting marketing approve and
# publish proposals: roles_sync keeps them on a role's group instead of resetting the group to the rules above.
RUN_TIME_GRANTS: tuple[str, ...] = ("lifecycle.approve_changeproposal",)


def role_permission_filter(role: str) -> list[tuple[str, str | None, str | None]]:
    """(app_label, model or None, action or None) triples that the role's group gets."""
    rules = ROLE_RULES[role]
    ours = our_app_labels()

    def labels(names: tuple[str, ...]) -> list[str]:
        return [label for name in names for label in (ours if name == ALL else (name,))]

    out: list[tuple[str, str | None, str | None]] = []
    for app in labels(rules.get("manage_apps", ())):
        out.append((app, None, None))
    for dotted in rules.get("manage_models", ()):
        app, model = dotted.split(".")
        out.append((app, model, None))
    for dotted in rules.get("add_models", ()):
        app, model = dotted.split(".")
        out.append((app, model, "add"))
    for app in labels(rules.get("view_apps", ())):
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
        for dotted in RUN_TIME_GRANTS:
            app, codename = dotted.split(".")
            wanted.update(group.permissions.filter(content_type__app_label=app, codename=codename).values_list("id", flat=True))
        for app, model, action in role_permission_filter(role):
            qs = Permission.objects.filter(content_type__app_label=app)
            if model:
                qs = qs.filter(content_type__model=model)
            if action:
                qs = qs.filter(codename__startswith=f"{action}_")
            wanted.update(qs.values_list("id", flat=True))
        group.permissions.set(sorted(wanted))
