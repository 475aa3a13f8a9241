"""Reads about users and teams for pages and forms."""

from __future__ import annotations

from django.db.models import Q

from tandem.core.errors import NotFound
from tandem.core.keyset import MAX_ID
from tandem.users.models import Role, User

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
