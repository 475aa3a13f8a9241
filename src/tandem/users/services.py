"""Writes for users, teams, roles and API tokens."""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django_otp import verify_token
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice, default_key

from tandem.core.errors import NotAllowed, NotFound, ValidationFailed
from tandem.core.events import event_record
from tandem.core.text import text_clean
from tandem.users.models import ApiToken, RepAccess, Role, Team, User
from tandem.users.selectors import signin_locks_for


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
    time_zone: str = "UTC",
    password_rules: bool = False,
    by_user: Any = None,
) -> User:
    """Create a user with a role (password None: they cannot sign in until an admin sets one)."""
    if not username.strip():
        raise ValidationFailed("username must not be empty", field="username", value=username)
    try:
        UnicodeUsernameValidator()(username)
    except DjangoValidationError:
        raise ValidationFailed(
            f"username {username!r} may hold only letters, digits and @ . + - _", field="username", value=username
        ) from None
    if User.objects.filter(username=username).exists():
        raise NotAllowed(f"user {username!r} already exists", field="username", value=username)
    if email:
        _email_check(email)
    if password is not None and password_rules:
        try:
            validate_password(password, User(username=username, email=email, first_name=first_name, last_name=last_name))
        except DjangoValidationError as exc:
            # The value is never echoed: it is a password.
            raise ValidationFailed(" ".join(exc.messages), field="password") from None
    user = User.objects.create_user(
        username=username,
        password=password,
        email=email,
        first_name=first_name,
        last_name=last_name,
        team=team,
        time_zone=_time_zone_check(time_zone),
    )
    user_set_role(user=user, role=role, by_user=by_user)
    event_record(
        kind="user.created", subject=user, actor=by_user, data={"role": role, "team": getattr(team, "pk", None)}
    )
    return user


def _email_check(email: str) -> str:
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed(f"email {email!r} is not a valid address", field="email", value=email) from None
    return email


def _time_zone_check(time_zone: str) -> str:
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(f"unknown time zone {time_zone!r}", field="time_zone", value=time_zone) from None
    return time_zone


def _admins_left(*, without: User) -> bool:
    return User.objects.filter(is_active=True, role=Role.ADMIN).exclude(pk=without.pk).exists()


USER_EDITABLE = ("email", "first_name", "last_name", "role", "team", "is_active", "time_zone", "is_away", "capacity")
# Django's own column widths: longer text is refused naming the field rather than cut.
_USER_TEXT_LIMITS = {"email": 254, "first_name": 150, "last_name": 150}


def _changes_apply(*, row: Any, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set each changed field on `row`; the old and new values (related rows by id) for the event."""
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for field, value in changes.items():
        current = getattr(row, field)
        if current != value:
            old[field] = getattr(current, "pk", current)
            new[field] = getattr(value, "pk", value)
            setattr(row, field, value)
    return old, new


@transaction.atomic
def user_update(*, user: User, by_user: Any = None, reason: str = "", **changes: Any) -> User:
    """Change a user's profile, role, team or whether they may sign in; one `user.updated` event with old and new."""
    unknown = sorted(set(changes) - set(USER_EDITABLE))
    if unknown:
        raise ValidationFailed(f"{unknown[0]} cannot be changed here", field=unknown[0], value=changes[unknown[0]])
    for field, limit in _USER_TEXT_LIMITS.items():
        if field in changes:
            changes[field] = text_clean(changes[field] or "", field=field, max_length=limit, required=False)
    if changes.get("email"):
        _email_check(changes["email"])
    if "time_zone" in changes:
        _time_zone_check(changes["time_zone"])
    if "capacity" in changes and not 0 <= changes["capacity"] <= 32767:
        raise ValidationFailed(
            f"capacity must be between 0 and 32767, got {changes['capacity']}", field="capacity", value=changes["capacity"]
        )
    role = changes.pop("role", user.role)
    if role not in Role.values:
        raise ValidationFailed(f"unknown role {role!r}", field="role", value=role)
    demoted = user.role == Role.ADMIN and role != Role.ADMIN
    deactivated = user.is_active and changes.get("is_active") is False
    if (demoted or deactivated) and by_user is not None and getattr(by_user, "pk", None) == user.pk:
        # An admin who locks themselves out needs another admin to undo it; one may not exist.
        field = "role" if demoted else "is_active"
        raise NotAllowed(f"you cannot {'give up your admin role' if demoted else 'deactivate yourself'}; ask another admin", field=field, value=role if demoted else False)
    if (demoted or deactivated) and user.role == Role.ADMIN and user.is_active and not _admins_left(without=user):
        field = "role" if demoted else "is_active"
        raise NotAllowed(f"{user.username!r} is the last active admin", field=field, value=role if demoted else False)
    old, new = _changes_apply(row=user, changes=changes)
    if new:
        user.save(update_fields=list(new))
        event_record(kind="user.updated", subject=user, actor=by_user, reason=reason, data={"old": old, "new": new})
        if "is_active" in new:
            event_record(
                kind="user.reactivated" if user.is_active else "user.deactivated", subject=user, actor=by_user, reason=reason
            )
    if role != user.role:
        user_set_role(user=user, role=role, by_user=by_user)
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


TEAM_EDITABLE = ("name", "kind", "manager")


@transaction.atomic
def team_update(*, team: Team, by_user: Any = None, reason: str = "", **changes: Any) -> Team:
    """Rename a team, change its kind or its manager (None: no manager); one `team.updated` event with old and new."""
    unknown = sorted(set(changes) - set(TEAM_EDITABLE))
    if unknown:
        raise ValidationFailed(f"{unknown[0]} cannot be changed here", field=unknown[0], value=changes[unknown[0]])
    if "name" in changes:
        clean = " ".join(text_clean(changes["name"], field="name", max_length=TEAM_NAME_MAX, required=True).split())
        if Team.objects.filter(name=clean).exclude(pk=team.pk).exists():
            raise NotAllowed(f"team {clean!r} already exists", field="name", value=clean)
        changes["name"] = clean
    if "kind" in changes and changes["kind"] not in ("sales", "marketing"):
        raise ValidationFailed(
            f"team kind must be sales or marketing, got {changes['kind']!r}", field="kind", value=changes["kind"]
        )
    manager = changes.get("manager")
    if manager is not None and not manager.is_active:
        raise ValidationFailed(
            f"{manager.username!r} is deactivated and cannot manage a team", field="manager_id", value=manager.pk
        )
    old, new = _changes_apply(row=team, changes=changes)
    if new:
        team.save(update_fields=list(new))
        event_record(kind="team.updated", subject=team, actor=by_user, reason=reason, data={"old": old, "new": new})
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


# ---- sign-in: passwords, lockouts, two-factor ----


@transaction.atomic
def user_password_set(*, user: User, password: str, by_user: Any = None, how: str = "changed") -> User:
    """Give a user a new password that passes the password rules; lifts a forced reset; a reset also unlocks."""
    try:
        validate_password(password, user)
    except DjangoValidationError as exc:
        # The value is never echoed: it is a password.
        raise ValidationFailed(" ".join(exc.messages), field="password") from None
    forced = user.must_change_password
    user.set_password(password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    event_record(
        kind="user.password_changed", subject=user, actor=by_user or user, data={"how": how, "forced": forced}
    )
    if how == "reset":
        # Whoever reads the account's e-mail may sign in again at once, not only after the cool-off.
        _signin_attempts_clear(username=user.username, by_user=by_user or user, reason="password reset by e-mail")
    return user


@transaction.atomic
def user_force_password_reset(*, user: User, by_user: Any = None) -> User:
    """Make the user change their password before they can use Tandem again (every page sends them there)."""
    if not user.has_usable_password():
        raise NotAllowed(
            f"{user.username!r} has no password to change; set one first", field="username", value=user.username
        )
    if user.must_change_password:
        return user
    user.must_change_password = True
    user.save(update_fields=["must_change_password"])
    event_record(kind="user.password_reset_forced", subject=user, actor=by_user)
    return user


def signin_failure_record(
    *, username: str, address: str, step: str = "password", refused: bool = False, locked_now: bool = False
) -> None:
    """Write the audit trail of one failed sign-in: `signin.failed`, and `signin.locked` when it locked."""
    user = User.objects.filter(username=username).first() if username else None
    data: dict[str, Any] = {"username": username, "address": address}
    if step != "password":
        data["step"] = step
    if refused:
        data["refused"] = "locked"
    event_record(kind="signin.failed", subject=user, data=data)
    if locked_now:
        locks = signin_locks_for(username=username, address=address)
        ends = [lock.ends_at for lock in locks if lock.ends_at is not None]
        event_record(
            kind="signin.locked",
            subject=user,
            data={
                "username": username,
                "address": address,
                "locked": sorted(lock.kind for lock in locks),
                "failures": max((lock.failures for lock in locks), default=0),
                # None: no cool-off, so only an admin (or a reset by e-mail) ends it.
                "until": max(ends).isoformat() if ends and len(ends) == len(locks) else None,
            },
        )


def _signin_attempts_clear(*, username: str = "", address: str = "", by_user: Any, reason: str) -> int:
    attempts = AccessAttempt.objects.filter(username=username) if username else AccessAttempt.objects.filter(
        ip_address=address
    )
    failures = int(attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0)
    if not failures:
        return 0
    axes_reset(username=username or None, ip=address or None)
    user = User.objects.filter(username=username).first() if username else None
    data: dict[str, Any] = {"username": username} if username else {"address": address}
    data["failures_cleared"] = failures
    event_record(kind="signin.unlocked", subject=user, actor=by_user, reason=reason, data=data)
    return failures


@transaction.atomic
def signin_unlock(*, username: str = "", address: str = "", by_user: Any = None, reason: str = "") -> int:
    """Clear an account's or an address's failed sign-ins so it may sign in now; returns the failures cleared."""
    username, address = (username or "").strip(), (address or "").strip()
    if bool(username) == bool(address):
        raise ValidationFailed(
            "Unlock an account (username) or an address, one of the two.", field="username", value=username or None
        )
    if address:
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            raise ValidationFailed(f"{address!r} is not an IP address", field="address", value=address) from None
    failures = _signin_attempts_clear(
        username=username, address=address, by_user=by_user, reason=reason or "unlocked by an admin"
    )
    if not failures:
        field, value = ("username", username) if username else ("address", address)
        what = "account" if username else "address"
        raise NotFound(f"no failed sign-ins recorded for {what} {value!r}", field=field, value=value)
    return failures


def totp_key_new() -> str:
    """A fresh TOTP secret (hex) for a device being enrolled."""
    return str(default_key())


@transaction.atomic
def totp_device_confirm(*, user: User, key: str, code: str, by_user: Any = None) -> TOTPDevice:
    """Enrol the TOTP device whose secret the user scanned, once they typed a code it shows."""
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        raise NotAllowed("two-factor is already on for this account; remove the device first", field="code")
    device = TOTPDevice(user=user, key=key, name="Authenticator app", confirmed=True)
    clean = (code or "").strip().replace(" ", "")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if not (clean.isdigit() and totp.verify(int(clean), tolerance=device.tolerance)):
        raise ValidationFailed("That code does not match: type the 6 digits your app shows now.", field="code")
    device.last_t = totp.t()
    device.save()
    event_record(kind="user.two_factor_enrolled", subject=user, actor=by_user or user, data={"device": "totp"})
    return device


@transaction.atomic
def totp_device_remove(*, user: User, by_user: Any = None) -> int:
    """Remove the user's TOTP devices (a lost phone); with TANDEM_ADMIN_2FA=required they must enrol again."""
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    if not removed:
        raise NotFound(f"{user.username!r} has no two-factor device", field="username", value=user.username)
    event_record(kind="user.two_factor_removed", subject=user, actor=by_user)
    return removed


def signin_code_check(*, user: User, code: str) -> TOTPDevice:
    """The user's device if `code` is its current TOTP code; otherwise refuse (wrong codes slow the device down)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()
    if device is None:
        raise NotFound("this account has no two-factor device", field="code")
    allowed, why = device.verify_is_allowed()
    if not allowed:
        until = (why or {}).get("locked_until")
        wait = f" until {timezone.localtime(until):%H:%M:%S}" if until else ""
        raise NotAllowed(f"Too many wrong codes: wait{wait or ' a moment'} and try again.", field="code")
    clean = (code or "").strip().replace(" ", "")
    # Not atomic on purpose: a wrong code's throttle count must stay written when this refuses.
    if not (clean.isdigit() and verify_token(user, device.persistent_id, clean)):
        raise ValidationFailed("That code is not right: type the 6 digits your app shows now.", field="code")
    return device


def team_set_rep_access(*, team: Team, rep_access: str, by_user: Any = None, reason: str = "") -> Team:
    """Set how far the team's reps reach beyond their own records (own, team_view, team_change)."""
    if rep_access not in RepAccess.values:
        raise ValidationFailed(
            f"rep_access must be one of {', '.join(RepAccess.values)}, got {rep_access!r}",
            field="rep_access",
            value=rep_access,
        )
    old = team.rep_access
    if old == rep_access:
        return team
    with transaction.atomic():
        team.rep_access = rep_access
        team.save(update_fields=["rep_access"])
        event_record(
            kind="team.rep_access_changed",
            subject=team,
            actor=by_user,
            reason=reason,
            data={"old": {"rep_access": old}, "new": {"rep_access": rep_access}},
        )
    return team


def users_restore_bulk(
    *,
    team_columns: list[str],
    teams: list[list[Any]],
    user_columns: list[str],
    users: list[list[Any]],
    now: Any,
) -> tuple[dict[str, int], dict[str, int]]:
    """Create a backup's teams (by name) and users (by username) that are not stored yet; returns every
    username's and team name's key. Stored ones are kept as they are; new users get no usable password.

    Columns are attnames, except `team` (a team's name) and `manager` (a username)."""
    from django.contrib.auth.hashers import make_password

    from tandem.core.bulk import rows_insert_returning

    team_pks = dict(Team.objects.values_list("name", "pk"))
    user_pks = dict(User.objects.values_list("username", "pk"))
    name_at, manager_at = team_columns.index("name"), team_columns.index("manager")
    new_teams = [row for row in teams if row[name_at] not in team_pks]
    plain = [c for c in team_columns if c != "manager"]
    keep = [i for i, c in enumerate(team_columns) if c != "manager"]
    ids = rows_insert_returning(
        model=Team, columns=plain, rows=[[row[i] for i in keep] for row in new_teams], now=now
    )
    team_pks.update({row[name_at]: pk for row, pk in zip(new_teams, ids, strict=True)})
    username_at, team_at = user_columns.index("username"), user_columns.index("team")
    role_at = user_columns.index("role")
    new_users = [row for row in users if row[username_at] not in user_pks]
    columns = [("team_id" if c == "team" else c) for c in user_columns] + ["password"]
    rows = []
    for row in new_users:
        values = list(row)
        values[team_at] = None if row[team_at] is None else team_pks[row[team_at]]
        rows.append([*values, make_password(None)])
    ids = rows_insert_returning(model=User, columns=columns, rows=rows, now=now)
    user_pks.update({row[username_at]: pk for row, pk in zip(new_users, ids, strict=True)})
    managed = [(team_pks[row[name_at]], user_pks[row[manager_at]]) for row in new_teams if row[manager_at]]
    for team_pk, user_pk in managed:
        Team.objects.filter(pk=team_pk).update(manager_id=user_pk)
    # Each new user joins its role's group, as user_create does (the role decides the permissions).
    groups = {role.value: Group.objects.get_or_create(name=role.label)[0].pk for role in Role}
    User.groups.through.objects.bulk_create(
        [
            User.groups.through(user_id=pk, group_id=groups[row[role_at]])
            for row, pk in zip(new_users, ids, strict=True)
            if row[role_at] in groups
        ]
    )
    if new_users or new_teams:
        event_record(
            kind="users.restored",
            subject_type="users.User",
            reason="bundle restore",
            data={
                "users": [row[username_at] for row in new_users],
                "teams": [row[name_at] for row in new_teams],
            },
        )
    return user_pks, team_pks
