"""django-axes wired into Tandem: the lockout backend and the attempt handler that writes the audit events."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from axes.conf import settings
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from django.http import HttpRequest
from ipware.ip import get_client_ip

from tandem.users.services import signin_failure_record


class SignInLockoutBackend(AxesStandaloneBackend):
    """axes' check before the password; refuses (right password too) while the account or the address is locked."""

    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        # Only a sign-in over HTTP has an address to count. Code that checks a password without a request (the
        # test client's login(), a script) is not one: axes refuses such calls outright, which would break them.
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


class SignInAttemptHandler(AxesDatabaseHandler):
    """axes' database handler that also writes each failed sign-in and each lockout to Tandem's event log."""

    def user_login_failed(self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
        if request is None:
            return
        # axes marks the request before this runs when the backend refused it because of a lockout.
        refused = bool(getattr(request, "axes_locked_out", False))
        super().user_login_failed(sender, credentials, request, **kwargs)
        signin_failure_record(
            username=str(get_client_username(request, credentials) or ""),
            address=str(getattr(request, "axes_ip_address", "") or ""),
            step=str(getattr(request, "signin_step", "password")),
            refused=refused,
            locked_now=not refused and bool(getattr(request, "axes_locked_out", False)),
        )


def signin_client_address(request: HttpRequest) -> str | None:
    """The address failures count against (axes' AXES_CLIENT_IP_CALLABLE): django-ipware's pick, else the peer's."""
    address, _ = get_client_ip(
        request,
        proxy_order=settings.AXES_IPWARE_PROXY_ORDER,
        proxy_count=settings.AXES_IPWARE_PROXY_COUNT,
        proxy_trusted_ips=settings.AXES_IPWARE_PROXY_TRUSTED_IPS,
        request_header_order=settings.AXES_IPWARE_META_PRECEDENCE_ORDER,
    )
    return address or request.META.get("REMOTE_ADDR") or None
