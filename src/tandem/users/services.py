"""Writes for users, teams, roles and API tokens."""

from __future__ import annotations

import secrets
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import event_record
from tandem.core.text import text_clean
from tandem.users.models import ApiToken, Role, Team, User


@transaction.atomic
def user_set_role(*, user: User, role: str, by_user: Any = None) -> User:
    """Put a user in exactly one role's group (admins also get the Django admin)."""
    if role not in Role.values:
        raise ValidationFailed(f"unknown role {role!r}", field="role", value=role)
    previous = user.role
    user.role = role
    user.is_staff = role == Role.ADMIN
    user.save(update_fields=["role", "is_staff"])
    role_groups = Group.objects.filter(name__in=[r.label for r in Role])
    user.groups.remove(*role_groups)
    group, _ = Group.objects.get_or_create(name=Role(role).label)
    user.groups.add(group)
    if previous != role:
        event_record(
            kind="user.role_changed", subject=user, actor=by_user, data={"from": previous, "to": role}
        )
    return user


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str | None,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    team: Team | None = None,
    by_user: Any = None,
) -> User:
    """Create a user with a role (password None: they cannot sign in until an admin sets one)."""
    if not username.strip():
        raise ValidationFailed("username must not be empty", field="username", value=username)
    if User.objects.filter(username=username).exists():
        raise NotAllowed(f"user {username!r} already exists", field="username", value=username)
    user = User.objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
        team=team,
    )
    user_set_role(user=user, role=role, by_user=by_user)
    event_record(kind="user.created", subject=user, actor=by_user, data={"role": role})
    return user


TEAM_NAME_MAX = 120


@transaction.atomic
def team_create(
    *,
    name: str,
    kind: str = "sales",
    time_zone: str = "UTC",
    manager: User | None = None,
    by_user: Any = None,
) -> Team:
    """Create a sales or marketing team in a time zone, perhaps with its manager."""
    clean = " ".join(text_clean(name, field="name", max_length=TEAM_NAME_MAX, required=True).split())
    if Team.objects.filter(name=clean).exists():
        raise NotAllowed(f"team {clean!r} already exists", field="name", value=clean)
    if kind not in ("sales", "marketing"):
        raise ValidationFailed(f"team kind must be sales or marketing, got {kind!r}", field="kind", value=kind)
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"unknown time zone {time_zone!r}", field="time_zone", value=time_zone) from None
    team = Team.objects.create(name=clean, kind=kind, time_zone=time_zone, manager=manager)
    event_record(
        kind="team.created",
        subject=team,
        actor=by_user,
        data={"name": clean, "kind": kind, "time_zone": time_zone, "manager": getattr(manager, "pk", None)},
    )
    return team


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Create a personal API token; returns the row and the token, which is shown only this once."""
    token = "tdm_" + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user, name=name or "token", prefix=token[:10], digest=ApiToken.digest_of(token)
    )
    event_record(
        kind="api_token.created", subject=user, actor=user, data={"name": row.name, "prefix": row.prefix}
    )
    return row, token


def api_token_revoke(*, token: ApiToken, by_user: Any = None) -> ApiToken:
    """Revoke an API token."""
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    event_record(kind="api_token.revoked", subject=token.user, actor=by_user, data={"prefix": token.prefix})
    return token


@transaction.atomic
def permission_grant(*, perm: str, granted: bool, role: str = "", user: User | None = None, by_user: Any = None) -> None:
    """Grant (or withdraw) a run-time permission to a role's group or to one user, with an event."""
    from django.contrib.auth.models import Permission

    from tandem.users.roles import RUN_TIME_GRANTS

    if perm not in RUN_TIME_GRANTS:
        raise ValidationFailed(f"{perm!r} is not granted at run time; use one of {', '.join(RUN_TIME_GRANTS)}", field="perm", value=perm)
    if (user is None) == (not role):
        raise ValidationFailed("Grant to a role or to a user (one of the two).", field="role", value=role or None)
    if role and role not in Role.values:
        raise ValidationFailed(f"unknown role {role!r}", field="role", value=role)
    app, codename = perm.split(".")
    permission = Permission.objects.filter(content_type__app_label=app, codename=codename).first()
    if permission is None:
        raise ValidationFailed(f"permission {perm!r} does not exist yet (run the migrations)", field="perm", value=perm)
    if user is not None:
        holder: Any = user.user_permissions
        subject: Any = user
    else:
        group, _ = Group.objects.get_or_create(name=Role(role).label)
        holder, subject = group.permissions, group
    had = holder.filter(pk=permission.pk).exists()
    if had == granted:
        return
    (holder.add if granted else holder.remove)(permission)
    event_record(
        kind="permission.granted" if granted else "permission.withdrawn",
        subject=subject,
        actor=by_user,
        data={"perm": perm, "role": role, "user": getattr(user, "username", "")},
    )
