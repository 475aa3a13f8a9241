"""Writes for users, teams, roles and API tokens."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import event_record
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
    password: str,
    role: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    team: Team | None = None,
    by_user: Any = None,
) -> User:
    """Create a user with a role."""
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
