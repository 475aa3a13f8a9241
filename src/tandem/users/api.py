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
