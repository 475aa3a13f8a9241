"""The sign-in gate: a signed-in user who still owes a step (a TOTP code, a forced password change, enrolling a
device) reaches only that step's page until it is done."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse

from tandem.users.selectors import signin_step_pending

# Each step: the page that completes it, and what an API call made with the session is told.
STEPS: dict[str, tuple[str, str]] = {
    "code": ("signin-code", "two-factor code required: enter your code at {url} first"),
    "password": ("password_change", "password change required: an administrator asked you to change it at {url}"),
    "enrol": ("account-two-factor", "two-factor required for admins: set up an authenticator app at {url} first"),
}


# Addresses that a secret in the URL authorises, not the session (a calendar feed, an e-mail's unsubscribe or
# tracked link): opened by calendar apps and mail recipients, never a step to complete. Apps above register
# them in AppConfig.ready() (floors: users cannot import them).
_TOKEN_PATHS: list[str] = []


def gate_token_path_register(*, prefix: str) -> None:
    """Let the gate pass every address under `prefix` (once; registering it again is a no-op)."""
    if prefix not in _TOKEN_PATHS:
        _TOKEN_PATHS.append(prefix)


@cache
def _open_paths() -> dict[str, frozenset[str]]:
    # Signing out is always possible; each step's own page is open while that step is owed.
    always = {reverse("logout"), reverse("admin:logout")}
    return {step: frozenset({reverse(url_name), *always}) for step, (url_name, _) in STEPS.items()}


class SignInGateMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if not user.is_authenticated or request.path.startswith(settings.STATIC_URL):
            return self.get_response(request)
        # A token call authenticates by its token, not this session: tokens are not passwords, so a forced
        # password change or a missing code does not stop an integration (docs/security.md).
        if request.path.startswith("/api/") and request.headers.get("Authorization", "").startswith("Bearer "):
            return self.get_response(request)
        if request.path.startswith(tuple(_TOKEN_PATHS)):
            return self.get_response(request)
        step = signin_step_pending(user=user, verified=bool(getattr(user, "is_verified", lambda: False)()))
        if not step or request.path in _open_paths()[step]:
            return self.get_response(request)
        url_name, detail = STEPS[step]
        url = reverse(url_name)
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": detail.format(url=url), "field": "session", "value": step}, status=403)
        if step == "code":
            url += "?" + urlencode({"next": request.get_full_path()})
        if request.headers.get("HX-Request"):
            # An HTMX swap would put the step's page inside a fragment: make the browser go there instead.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return HttpResponseRedirect(url)
