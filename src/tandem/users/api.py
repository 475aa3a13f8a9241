"""Sign-in administration over the API: locked accounts and addresses, unlocking, forcing a password change."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from tandem.core.http import Id, NoNul, require_perm
from tandem.users import selectors, services

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
