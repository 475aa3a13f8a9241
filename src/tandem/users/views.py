"""Sign-in pages: signing in (with a TOTP code for admins who enrolled), the lockout page, the account page,
changing and resetting a password, two-factor enrolment, and the admins' sign-in page (unlock, force a reset)."""

from __future__ import annotations

import io
from base64 import b32encode
from typing import Any

import qrcode
import qrcode.image.svg
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.core.errors import TandemError
from tandem.core.http import require_perm
from tandem.users import selectors, services
from tandem.users.models import RepAccess, User

PENDING_KEY = "signin_totp_pending_key"


# ---- signing in ----


class SignInView(auth_views.LoginView):
    template_name = "users/login.html"
    redirect_authenticated_user = True


def signin_locked(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """The lockout page (axes' AXES_LOCKOUT_CALLABLE): what happened, when it ends, who can unlock it."""
    username = str(get_client_username(request, credentials) or "")
    address = str(getattr(request, "axes_ip_address", "") or "")
    locks = selectors.signin_locks_for(username=username, address=address)
    ends = [lock.ends_at for lock in locks if lock.ends_at is not None]
    context = {
        "locks": locks,
        "account_locked": any(lock.kind == "account" for lock in locks),
        "address_locked": any(lock.kind == "address" for lock in locks),
        "username": username,
        "address": address,
        "limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": settings.SIGNIN_COOLOFF_MINUTES,
        "ends_at": max(ends) if ends and len(ends) == len(locks) else None,
    }
    return render(request, "users/locked.html", context, status=429)


def _safe_next(request: HttpRequest, value: str) -> str:
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return value
    return reverse("home")


@login_required
def signin_code(request: HttpRequest) -> HttpResponse:
    """The second step for an admin with a TOTP device: the code their app shows."""
    user: Any = request.user
    device = selectors.totp_device_of(user=user) if selectors.two_factor_applies(user=user) else None
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next", ""))
    if device is None or user.is_verified():
        return redirect(next_url)
    credentials = {"username": user.get_username()}
    error = ""
    if request.method == "POST":
        # A code is a password too: its failures count toward the same lockout as the password's.
        if not AxesProxyHandler.is_allowed(request, credentials):
            logout(request)
            return signin_locked(request, None, credentials)
        try:
            otp_login(request, services.signin_code_check(user=user, code=request.POST.get("code", "")))
        except TandemError as exc:
            error = exc.message
            request.signin_step = "code"  # type: ignore[attr-defined]
            AxesProxyHandler.user_login_failed(sender=signin_code, credentials=credentials, request=request)
            if getattr(request, "axes_locked_out", False):
                logout(request)
                return signin_locked(request, None, credentials)
        else:
            return redirect(next_url)
    return render(request, "users/signin_code.html", {"next": next_url, "error": error}, status=422 if error else 200)


# ---- the account page and passwords ----


@login_required
def account(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    context = {
        "two_factor_shown": selectors.two_factor_applies(user=user),
        "device": selectors.totp_device_of(user=user),
        "admin_2fa": settings.ADMIN_2FA,
    }
    return render(request, "users/account.html", context)


class PasswordChangeView(auth_views.PasswordChangeView):
    template_name = "users/password_change.html"
    success_url = reverse_lazy("password_change_done")

    def form_valid(self, form: Any) -> HttpResponse:
        user = services.user_password_set(
            user=form.user, password=form.cleaned_data["new_password1"], by_user=self.request.user, how="changed"
        )
        # Changing the password ends the user's other sessions but keeps this one signed in.
        update_session_auth_hash(self.request, user)
        return redirect(self.get_success_url())


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "users/password_change_done.html"


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "users/password_reset.html"
    email_template_name = "users/password_reset_email.txt"
    subject_template_name = "users/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form: Any) -> HttpResponse:
        # Links are made from TANDEM_BASE_URL, never from the Host header a client sent.
        self.extra_email_context = {"base_url": settings.BASE_URL}
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "users/password_reset_done.html"


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "users/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        services.user_password_set(
            user=form.user, password=form.cleaned_data["new_password1"], by_user=form.user, how="reset"
        )
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return redirect(self.get_success_url())


class PasswordResetCompleteView(auth_views.PasswordResetCompleteView):
    template_name = "users/password_reset_complete.html"


# ---- two-factor enrolment ----


def _qr_svg(data: str) -> str:
    # Drawn here as inline SVG (presentation attributes only), so no image host, data: URL or inline style.
    out = io.BytesIO()
    qrcode.make(data, image_factory=qrcode.image.svg.SvgPathFillImage, box_size=8).save(out)
    svg = out.getvalue().decode()
    return svg[svg.index("<svg") :]


@login_required
def account_two_factor(request: HttpRequest) -> HttpResponse:
    """Enrol a TOTP device: scan the QR code, type the code the app shows."""
    user: Any = request.user
    require_perm(
        request,
        allowed=selectors.two_factor_applies(user=user),
        message="Two-factor sign-in is for admins, and only when TANDEM_ADMIN_2FA is optional or required.",
    )
    if selectors.totp_device_of(user=user) is not None:
        return redirect("account")
    key = request.session.get(PENDING_KEY) or services.totp_key_new()
    request.session[PENDING_KEY] = key
    error = ""
    if request.method == "POST":
        try:
            device = services.totp_device_confirm(user=user, key=key, code=request.POST.get("code", ""), by_user=user)
        except TandemError as exc:
            error = exc.message
        else:
            del request.session[PENDING_KEY]
            # This session proved the code just now: it counts as verified.
            otp_login(request, device)
            messages.success(request, "Two-factor sign-in is on: from now on Tandem asks for a code when you sign in.")
            return redirect("account")
    pending = TOTPDevice(user=user, key=key)
    context = {
        "qr_svg": mark_safe(_qr_svg(pending.config_url)),  # drawn by qrcode from our own data
        "secret": _base32(pending.bin_key),
        "error": error,
    }
    return render(request, "users/two_factor.html", context, status=422 if error else 200)


def _base32(key: bytes) -> str:
    text = b32encode(key).decode()
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


@login_required
@require_POST
def account_two_factor_remove(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    try:
        services.totp_device_remove(user=user, by_user=user)
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Two-factor sign-in is off for your account.")
    return redirect("account")


# ---- the admins' sign-in page ----


def _require_admin(request: HttpRequest) -> Any:
    return require_perm(
        request, allowed=selectors.user_is_admin(user=request.user), message="Only admins manage sign-ins."
    )


@login_required
def signin_admin(request: HttpRequest) -> HttpResponse:
    """Locked accounts and addresses with an Unlock button, forced password resets, the latest sign-in events."""
    _require_admin(request)
    context = {
        "locks": selectors.signin_locks(),
        "must_change": selectors.users_must_change_password(),
        "reset_options": selectors.user_reset_options(),
        "events": selectors.signin_events_recent(),
        "limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": settings.SIGNIN_COOLOFF_MINUTES,
    }
    return render(request, "users/signin_admin.html", context)


@login_required
@require_POST
def signin_admin_unlock(request: HttpRequest) -> HttpResponse:
    admin = _require_admin(request)
    kind, value = request.POST.get("kind", ""), request.POST.get("value", "")
    try:
        if kind == "address":
            services.signin_unlock(address=value, by_user=admin)
        else:
            services.signin_unlock(username=value, by_user=admin)
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Unlocked {'address' if kind == 'address' else 'account'} {value}.")
    return redirect("signin-admin")


@login_required
@require_POST
def signin_admin_force_reset(request: HttpRequest) -> HttpResponse:
    admin = _require_admin(request)
    raw = request.POST.get("user_id", "")
    try:
        user: User = selectors.user_get(user_id=int(raw) if raw.isdigit() else 0)
        services.user_force_password_reset(user=user, by_user=admin)
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{user.username} must change their password before using Tandem again.")
    return redirect("signin-admin")


@login_required
def team_access(request: HttpRequest) -> HttpResponse:
    """Each team's record-level access setting for its reps, changed one team at a time (admins only)."""
    admin = require_perm(
        request, allowed=selectors.user_is_admin(user=request.user), message="Only admins set record access."
    )
    if request.method == "POST":
        try:
            team = selectors.team_get(team_id=int(request.POST.get("team", "0") or 0))
            services.team_set_rep_access(
                team=team, rep_access=request.POST.get("rep_access", ""), by_user=admin, reason="set on the teams page"
            )
        except (TandemError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", str(exc)))
        else:
            messages.success(request, f"{team.name}: reps now reach {team.get_rep_access_display().lower()}.")
        return redirect("team-access")
    context = {"teams": selectors.teams_all(), "choices": RepAccess.choices}
    return render(request, "users/team_access.html", context)
