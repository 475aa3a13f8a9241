"""Sign-in administration over the API (locked accounts and addresses, unlocking, forcing a password change), and
users and teams for admins: list, create, change role, team or profile, deactivate; teams' names and managers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from pydantic import ConfigDict

from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.http import Id, NoNul, require_perm
from tandem.core.idempotency import idempotent
from tandem.core.keyset import MAX_ID
from tandem.users import selectors, services
from tandem.users.models import Role

router = Router(tags=["sign-in"])


class SigninErrorOut(Schema):
    detail: str
    field: str | None = None
    value: str | None = None


class SignInLockOut(Schema):
    kind: str = Field(..., description="account (a username tried) or address (an IP address)")
    value: str
    failures: int
    last_failure: dt.datetime
    ends_at: dt.datetime | None = Field(None, description="null: until an admin unlocks it (no cool-off set)")


class UnlockIn(Schema):
    username: Annotated[str, Field(max_length=150), NoNul] = ""
    address: Annotated[str, Field(max_length=45), NoNul] = ""


class UnlockOut(Schema):
    username: str
    address: str
    failures_cleared: int


class ForcedResetOut(Schema):
    id: int
    username: str
    must_change_password: bool


def _admin(request: HttpRequest) -> Any:
    return require_perm(request, allowed=selectors.user_is_admin(user=request.user), message="Only admins manage sign-ins.")


@router.get("/sign-in/locks", response={200: list[SignInLockOut], 403: SigninErrorOut})
def signin_locks(request: HttpRequest) -> Any:
    """Accounts and addresses locked out of signing in now, latest failure first (admins only)."""
    _admin(request)
    return selectors.signin_locks()


@router.post("/sign-in/unlock", response={200: UnlockOut, 403: SigninErrorOut, 404: SigninErrorOut, 422: SigninErrorOut})
def signin_unlock(request: HttpRequest, payload: UnlockIn) -> Any:
    """Unlock an account (`username`) or an address (`address`), one of the two; writes a `signin.unlocked` event."""
    admin = _admin(request)
    cleared = services.signin_unlock(username=payload.username, address=payload.address, by_user=admin)
    return {"username": payload.username.strip(), "address": payload.address.strip(), "failures_cleared": cleared}


@router.post(
    "/users/{user_id}/force-password-reset",
    response={200: ForcedResetOut, 403: SigninErrorOut, 404: SigninErrorOut, 409: SigninErrorOut},
)
def user_force_password_reset(request: HttpRequest, user_id: Id) -> Any:
    """Make a user change their password before using Tandem again (admins only); their tokens keep working."""
    admin = _admin(request)
    user = services.user_force_password_reset(user=selectors.user_get(user_id=user_id), by_user=admin)
    return {"id": user.pk, "username": user.username, "must_change_password": user.must_change_password}


# ---- record-level access: each team's setting for its reps (tandem.users.access) ----


class TeamAccessOut(Schema):
    id: int
    name: str
    kind: str = Field(..., description="sales or marketing")
    time_zone: str
    manager_id: int | None
    rep_access: str = Field(..., description="own, team_view (see the team's records) or team_change (see and change)")


class TeamAccessIn(Schema):
    rep_access: Annotated[str, Field(max_length=16), NoNul]
    reason: Annotated[str, Field(max_length=500), NoNul] = ""


@router.get("/teams", response={200: list[TeamAccessOut], 403: SigninErrorOut}, tags=["access"])
def teams_list(request: HttpRequest) -> Any:
    """Every team with how far its reps reach beyond their own records (admins only)."""
    _admin(request)
    return list(selectors.teams_all())


@router.patch(
    "/teams/{int:team_id}/access",
    response={200: TeamAccessOut, 403: SigninErrorOut, 404: SigninErrorOut, 422: SigninErrorOut},
    tags=["access"],
)
def team_access_set(request: HttpRequest, team_id: Id, payload: TeamAccessIn) -> Any:
    """Set whether the team's reps see (team_view) or also change (team_change) each other's records (admins only)."""
    admin = _admin(request)
    team = selectors.team_get(team_id=team_id)
    return services.team_set_rep_access(team=team, rep_access=payload.rep_access, by_user=admin, reason=payload.reason)


# ---- users and teams (admins): the same services as `tandem users` and the Django admin ----

ADMINS_ONLY = "Only admins manage users and teams."
RoleName = Literal[tuple(Role.values)]  # type: ignore[valid-type]
RefId = Annotated[int, Field(ge=1, le=MAX_ID)]


class UserOut(Schema):
    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    role: str = Field(..., description=" | ".join(Role.values))
    team_id: int | None
    team: str | None = Field(None, alias="team.name")
    is_active: bool = Field(..., description="false: deactivated, may not sign in or use tokens")
    is_away: bool = Field(..., description="routing gives an away rep no new leads")
    capacity: int = Field(..., description="routing's weight in round-robin")
    time_zone: str
    has_password: bool
    must_change_password: bool
    date_joined: dt.datetime
    last_login: dt.datetime | None

    @staticmethod
    def resolve_has_password(obj: Any) -> bool:
        return bool(obj.has_usable_password())


class UserPageOut(Schema):
    items: list[UserOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page")
    prev_cursor: str | None = Field(None, description="pass as `cursor` for the previous page")


class UserQuery(Schema):
    q: Annotated[str, Field(max_length=150, description="part of the username, name or e-mail (any case)"), NoNul] = ""
    role: Annotated[str, Field(max_length=20, description=" | ".join(Role.values)), NoNul] = ""
    team: Annotated[str, Field(max_length=20, description="a team id, or none"), NoNul] = ""
    is_active: bool | None = Field(None, description="true: active users only; false: deactivated ones; empty: both")
    is_away: bool | None = Field(None, description="true: away (routing skips them); false: present; empty: both")
    cursor: Annotated[str, Field(max_length=2000), NoNul] = ""
    limit: int = Field(selectors.USER_PAGE_SIZE, ge=1, le=selectors.USER_MAX_PAGE_SIZE)


class UserPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, Field(max_length=254), NoNul] | None = None
    first_name: Annotated[str, Field(max_length=150), NoNul] | None = None
    last_name: Annotated[str, Field(max_length=150), NoNul] | None = None
    role: RoleName | None = None  # type: ignore[valid-type]
    team_id: RefId | None = Field(None, description="null: on no team")
    is_active: bool | None = Field(None, description="false deactivates (no sign-in, no tokens); true restores")
    time_zone: Annotated[str, Field(max_length=64), NoNul] | None = None
    is_away: bool | None = None
    capacity: Annotated[int, Field(ge=0, le=32767)] | None = None
    reason: Annotated[str, Field(max_length=500), NoNul] = ""


class UserIn(Schema):
    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(min_length=1, max_length=150, description="letters, digits and @ . + - _"), NoNul]
    role: RoleName  # type: ignore[valid-type]
    email: Annotated[str, Field(max_length=254), NoNul] = ""
    first_name: Annotated[str, Field(max_length=150), NoNul] = ""
    last_name: Annotated[str, Field(max_length=150), NoNul] = ""
    team_id: RefId | None = None
    time_zone: Annotated[str, Field(max_length=64), NoNul] = "UTC"
    password: Annotated[str, Field(max_length=128), NoNul] | None = Field(
        None, description="must pass the password rules; none: they sign in once an admin sets one (`tandem users`)"
    )


class TeamOut(Schema):
    id: int
    name: str
    kind: str = Field(..., description="sales or marketing")
    time_zone: str
    manager_id: int | None
    manager: str | None = Field(None, alias="manager.username")
    rep_access: str
    members: list[int] = Field(..., description="ids of the active users on the team, by username")

    @staticmethod
    def resolve_members(obj: Any) -> list[int]:
        return [u.pk for u in obj.members.all() if u.is_active]


class TeamIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=120), NoNul]
    kind: Literal["sales", "marketing"] = "sales"
    time_zone: Annotated[str, Field(max_length=64), NoNul] = "UTC"
    manager_id: RefId | None = None


class TeamPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=120), NoNul] | None = None
    kind: Literal["sales", "marketing"] | None = None
    manager_id: RefId | None = Field(None, description="null: no manager")
    reason: Annotated[str, Field(max_length=500), NoNul] = ""


def _users_admin(request: HttpRequest) -> Any:
    return require_perm(request, allowed=selectors.user_is_admin(user=request.user), message=ADMINS_ONLY)


def _ref(load: Any, field: str, **kwargs: Any) -> Any:
    # An id in the body that names nothing is bad input (422 naming the field), not a missing page (404).
    try:
        return load(**kwargs)
    except NotFound as exc:
        raise ValidationFailed(exc.message, field=field, value=exc.value) from None


@router.get("/users", response={200: UserPageOut, 403: SigninErrorOut}, tags=["users"])
def users_list(request: HttpRequest, filters: Query[UserQuery]) -> Any:
    """Users by username, with role and team; filter by `q`, `role`, `team` (an id or none), `is_active` and
    `is_away`, as the admin's user list does (admins)."""
    _users_admin(request)
    return selectors.users_page(**filters.dict())


@router.post("/users", response={201: UserOut, 403: SigninErrorOut, 409: SigninErrorOut, 422: SigninErrorOut}, tags=["users"])
@idempotent
def user_add(request: HttpRequest, payload: UserIn) -> Any:
    """Create a user with a role, perhaps on a team and with a password (admins); 409 naming a username taken."""
    admin = _users_admin(request)
    team = _ref(selectors.team_get, "team_id", team_id=payload.team_id) if payload.team_id is not None else None
    user = services.user_create(
        username=payload.username, password=payload.password, role=payload.role, email=payload.email.strip(),
        first_name=payload.first_name.strip(), last_name=payload.last_name.strip(), team=team,
        time_zone=payload.time_zone, password_rules=True, by_user=admin,
    )
    return Status(201, selectors.user_get(user_id=user.pk))


@router.get("/users/{int:user_id}", response={200: UserOut, 403: SigninErrorOut, 404: SigninErrorOut}, tags=["users"])
def user_one(request: HttpRequest, user_id: Id) -> Any:
    """One user (admins)."""
    _users_admin(request)
    return selectors.user_get(user_id=user_id)


@router.patch(
    "/users/{int:user_id}",
    response={200: UserOut, 403: SigninErrorOut, 404: SigninErrorOut, 409: SigninErrorOut, 422: SigninErrorOut},
    tags=["users"],
)
def user_change(request: HttpRequest, user_id: Id, payload: UserPatch) -> Any:
    """Change a user's role, team, profile or whether they may sign in (`is_active: false` deactivates; admins).
    409 for demoting or deactivating yourself or the last active admin."""
    admin = _users_admin(request)
    user = selectors.user_get(user_id=user_id)
    changes = payload.dict(exclude_unset=True)
    reason = changes.pop("reason", "")
    if "team_id" in changes:
        team_id = changes.pop("team_id")
        changes["team"] = _ref(selectors.team_get, "team_id", team_id=team_id) if team_id is not None else None
    for key in ("role", "is_active", "is_away", "capacity", "time_zone"):
        if key in changes and changes[key] is None:
            del changes[key]
    services.user_update(user=user, by_user=admin, reason=reason, **changes)
    return selectors.user_get(user_id=user_id)


@router.post("/teams", response={201: TeamOut, 403: SigninErrorOut, 409: SigninErrorOut, 422: SigninErrorOut}, tags=["users"])
@idempotent
def team_add(request: HttpRequest, payload: TeamIn) -> Any:
    """Create a sales or marketing team in a time zone, perhaps with its manager (admins); 409 naming a taken name."""
    admin = _users_admin(request)
    manager = _ref(selectors.user_get, "manager_id", user_id=payload.manager_id) if payload.manager_id is not None else None
    team = services.team_create(
        name=payload.name, kind=payload.kind, time_zone=payload.time_zone, manager=manager, by_user=admin
    )
    return Status(201, selectors.team_detail(team_id=team.pk))


@router.get("/teams/{int:team_id}", response={200: TeamOut, 403: SigninErrorOut, 404: SigninErrorOut}, tags=["users"])
def team_one(request: HttpRequest, team_id: Id) -> Any:
    """One team with its manager and members (admins)."""
    _users_admin(request)
    return selectors.team_detail(team_id=team_id)


@router.patch(
    "/teams/{int:team_id}",
    response={200: TeamOut, 403: SigninErrorOut, 404: SigninErrorOut, 409: SigninErrorOut, 422: SigninErrorOut},
    tags=["users"],
)
def team_change(request: HttpRequest, team_id: Id, payload: TeamPatch) -> Any:
    """Rename a team, change its kind or its manager (`manager_id: null` removes it; admins). Its time zone and hours
    are the business calendar's (`PUT /api/teams/{id}/calendar`); its reps' reach is `PATCH /api/teams/{id}/access`."""
    admin = _users_admin(request)
    team = selectors.team_get(team_id=team_id)
    changes = payload.dict(exclude_unset=True)
    reason = changes.pop("reason", "")
    if "manager_id" in changes:
        manager_id = changes.pop("manager_id")
        changes["manager"] = _ref(selectors.user_get, "manager_id", user_id=manager_id) if manager_id is not None else None
    if "name" in changes and changes["name"] is None:
        del changes["name"]
    if "kind" in changes and changes["kind"] is None:
        del changes["kind"]
    services.team_update(team=team, by_user=admin, reason=reason, **changes)
    return selectors.team_detail(team_id=team_id)
