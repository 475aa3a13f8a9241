"""Reads about users and teams for pages and forms."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Q, Sum
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.core.errors import NotFound
from tandem.core.keyset import MAX_ID
from tandem.core.models import Event
from tandem.users.models import Role, Team, User

# Roles whose home page is theirs alone; anyone else opening it gets 403 (superusers see all).
HOME_URL_NAMES: dict[str, str] = {
    Role.ADMIN: "home-admin",
    Role.MARKETING: "home-marketing",
    Role.SALES_REP: "home-rep",
    Role.SALES_MANAGER: "home-manager",
    Role.VIEWER: "home-viewer",
}


def user_home_url_name(*, user: User) -> str:
    """The URL name of the home page a user lands on after signing in."""
    if user.is_superuser:
        return HOME_URL_NAMES[Role.ADMIN]
    return HOME_URL_NAMES.get(user.role, HOME_URL_NAMES[Role.VIEWER])


def user_count() -> int:
    """How many active users there are."""
    return User.objects.filter(is_active=True).count()


def user_owner_options() -> list[User]:
    """Active users who can own people and deals (sales roles and admins), by name."""
    return list(
        User.objects.filter(
            is_active=True, role__in=[Role.SALES_REP, Role.SALES_MANAGER, Role.ADMIN]
        ).order_by("first_name", "last_name", "username")
    )


def user_team_reps(*, manager: User) -> list[User]:
    """The reps a sales manager leads: members of the teams they manage or belong to; all reps when none."""
    teams = Q(team__manager=manager)
    if manager.team_id is not None:
        teams |= Q(team_id=manager.team_id)
    reps = User.objects.filter(is_active=True, role=Role.SALES_REP)
    mine = list(reps.filter(teams).distinct().order_by("first_name", "last_name", "username"))
    return mine or list(reps.order_by("first_name", "last_name", "username"))


def user_get(*, user_id: int) -> User:
    """One user by id, or NotFound naming the id."""
    user = User.objects.filter(pk=user_id).first() if 0 < user_id <= MAX_ID else None
    if user is None:
        raise NotFound(f"no user with id {user_id}", field="id", value=user_id)
    return user


def user_get_by_username(*, username: str) -> User:
    """One user by username, or NotFound naming it."""
    user = User.objects.filter(username=username).first() if username else None
    if user is None:
        raise NotFound(f"no user named {username!r}", field="username", value=username)
    return user


def user_is_admin(*, user: Any) -> bool:
    """Whether the user administers this installation (the admin role or a superuser)."""
    return bool(getattr(user, "is_superuser", False) or getattr(user, "role", "") == Role.ADMIN)


def users_must_change_password() -> list[User]:
    """Active users an admin has asked to change their password, by username."""
    return list(User.objects.filter(is_active=True, must_change_password=True).order_by("username"))


def user_reset_options() -> list[User]:
    """Active users with a password an admin may force a reset for, by username."""
    return [u for u in User.objects.filter(is_active=True).order_by("username") if u.has_usable_password()]


# ---- sign-in: lockouts (django-axes' attempts) and two-factor ----


@dataclass(frozen=True)
class SignInLock:
    """An account (a username tried) or an address that may not sign in now, and until when."""

    kind: str  # "account" or "address"
    value: str
    failures: int
    last_failure: dt.datetime
    ends_at: dt.datetime | None  # None: until an admin unlocks (no cool-off configured)


def _lock_end(rows: list[tuple[dt.datetime, int]], limit: int, cool_off: dt.timedelta | None) -> dt.datetime | None:
    # Each attempt row stops counting a cool-off after its latest failure, oldest first: the lock ends when the
    # failures still counted fall below the limit.
    if cool_off is None:
        return None
    remaining = sum(failures for _, failures in rows)
    for at, failures in sorted(rows):
        remaining -= failures
        if remaining < limit:
            return at + cool_off
    return None


def _locks(*, username: str | None = None, address: str | None = None, now: dt.datetime | None) -> list[SignInLock]:
    limit = int(settings.AXES_FAILURE_LIMIT)
    cool_off = get_cool_off()
    attempts = AccessAttempt.objects.all()
    if cool_off is not None:
        attempts = attempts.filter(attempt_time__gte=(now or timezone.now()) - cool_off)
    locks: list[SignInLock] = []
    for kind, field, only in (("account", "username", username), ("address", "ip_address", address)):
        scope = attempts.filter(**{f"{field}__isnull": False})
        if only is not None:
            scope = scope.filter(**{field: only})
        locked = [
            row[field]
            for row in scope.values(field).annotate(total=Sum("failures_since_start")).filter(total__gte=limit)
        ]
        if not locked:
            continue
        grouped: dict[str, list[tuple[dt.datetime, int]]] = defaultdict(list)
        for key, at, failures in scope.filter(**{f"{field}__in": locked}).values_list(
            field, "attempt_time", "failures_since_start"
        ):
            grouped[key].append((at, failures))
        for key, rows in grouped.items():
            locks.append(
                SignInLock(
                    kind=kind,
                    value=str(key),
                    failures=sum(f for _, f in rows),
                    last_failure=max(at for at, _ in rows),
                    ends_at=_lock_end(rows, limit, cool_off),
                )
            )
    return sorted(locks, key=lambda lock: (lock.last_failure, lock.kind, lock.value), reverse=True)


def signin_locks(*, now: dt.datetime | None = None) -> list[SignInLock]:
    """Every account and address locked out of signing in now, latest failure first."""
    return _locks(now=now)


def signin_locks_for(*, username: str, address: str, now: dt.datetime | None = None) -> list[SignInLock]:
    """The locks (account, address or both) that refuse a sign-in as `username` from `address`."""
    return [
        lock
        for lock in _locks(username=username or None, address=address or None, now=now)
        if (lock.kind == "account" and lock.value == username) or (lock.kind == "address" and lock.value == address)
    ]


def signin_events_recent(*, limit: int = 20) -> list[Event]:
    """The latest sign-in events (failures, lockouts, unlocks), newest first."""
    return list(Event.objects.filter(kind__startswith="signin.").order_by("-occurred_at", "-id")[:limit])


def two_factor_applies(*, user: Any) -> bool:
    """Whether TANDEM_ADMIN_2FA asks this user for TOTP codes (admins only, when not off)."""
    return settings.ADMIN_2FA != "off" and user_is_admin(user=user)


def totp_device_of(*, user: Any) -> TOTPDevice | None:
    """The user's confirmed TOTP device, if they enrolled one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def signin_step_pending(*, user: Any, verified: bool) -> str:
    """What a signed-in user must do before anything else: "code", "password", "enrol" or "" (nothing)."""
    two_factor = two_factor_applies(user=user)
    # A session verified by a code has a device, so only unverified admins cost a query.
    has_device = verified or (two_factor and TOTPDevice.objects.filter(user=user, confirmed=True).exists())
    if two_factor and not verified and has_device:
        return "code"
    if getattr(user, "must_change_password", False):
        return "password"
    if two_factor and settings.ADMIN_2FA == "required" and not has_device:
        return "enrol"
    return ""


def teams_all() -> list[Team]:
    """Every team by name, with its manager."""
    return list(Team.objects.select_related("manager").order_by("name"))


USERS_ORDER = "username"  # the users list: by username (unique)
USER_PAGE_SIZE = 50
USER_MAX_PAGE_SIZE = 200


@dataclass(frozen=True)
class UserPage:
    """One keyset page of users; the cursors are None where there is nothing further."""

    items: list[User]
    next_cursor: str | None
    prev_cursor: str | None


def users_page(
    *, q: str = "", role: str = "", team: str = "", is_active: bool | None = None, is_away: bool | None = None,
    cursor: str = "", limit: int = USER_PAGE_SIZE,
) -> UserPage:
    """A page of users by username with their team (two queries at most); `team` is a team id or `none`."""
    from tandem.core.errors import ValidationFailed
    from tandem.core.keyset import Cursor, cursor_decode, cursor_encode

    if not 1 <= limit <= USER_MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit must be between 1 and {USER_MAX_PAGE_SIZE}, got {limit}", field="limit", value=limit)
    if role and role not in Role.values:
        raise ValidationFailed(f"unknown role {role!r}", field="role", value=role)
    rows = User.objects.select_related("team")
    if q.strip():
        term = q.strip()
        rows = rows.filter(
            Q(username__icontains=term) | Q(first_name__icontains=term) | Q(last_name__icontains=term)
            | Q(email__icontains=term)
        )
    if role:
        rows = rows.filter(role=role)
    if team == "none":
        rows = rows.filter(team__isnull=True)
    elif team:
        if not (team.isascii() and team.isdigit() and 0 < int(team) <= MAX_ID):
            raise ValidationFailed(f"team must be a team id or none, got {team!r}", field="team", value=team)
        rows = rows.filter(team_id=int(team))
    if is_active is not None:
        rows = rows.filter(is_active=is_active)
    if is_away is not None:
        rows = rows.filter(is_away=is_away)
    boundary = cursor_decode(cursor, order=USERS_ORDER) if cursor else None
    if boundary is not None:
        rows = (
            rows.filter(username__lt=boundary.key).order_by("-username")
            if boundary.backward
            else rows.filter(username__gt=boundary.key).order_by("username")
        )
    else:
        rows = rows.order_by("username")
    found = list(rows[: limit + 1])
    more = len(found) > limit
    items = found[:limit]
    going_back = boundary is not None and boundary.backward
    if going_back:
        items.reverse()
    if not items:
        return UserPage(items=[], next_cursor=None, prev_cursor=None)
    has_next = True if going_back else more
    has_prev = more if going_back else boundary is not None
    first, last = items[0], items[-1]
    return UserPage(
        items=items,
        next_cursor=cursor_encode(Cursor(USERS_ORDER, last.username, last.pk)) if has_next else None,
        prev_cursor=cursor_encode(Cursor(USERS_ORDER, first.username, first.pk, backward=True)) if has_prev else None,
    )


def team_detail(*, team_id: int) -> Team:
    """One team with its manager and members (by username) read along, or NotFound naming the id."""
    from django.db.models import Prefetch

    team = (
        Team.objects.select_related("manager")
        .prefetch_related(Prefetch("members", queryset=User.objects.order_by("username")))
        .filter(pk=team_id)
        .first()
        if 0 < team_id <= MAX_ID
        else None
    )
    if team is None:
        raise NotFound(f"no team with id {team_id}", field="team_id", value=team_id)
    return team


def team_get(*, team_id: int) -> Team:
    """One team by id, or NotFound naming the id."""
    team = Team.objects.filter(pk=team_id).first() if 0 < team_id <= MAX_ID else None
    if team is None:
        raise NotFound(f"no team with id {team_id}", field="team_id", value=team_id)
    return team
