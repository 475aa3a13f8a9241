"""Pages of mail: the user's subscriptions (account area), the one-click unsubscribe link, and tracked links."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tandem.core.errors import NotFound, TandemError
from tandem.enablement.files import content_type_of
from tandem.integrations.mail import selectors, services
from tandem.integrations.mail.models import MailKind
from tandem.integrations.mail.tokens import unsubscribe_token_read


@login_required
@require_http_methods(["GET", "POST"])
def subscriptions(request: HttpRequest) -> HttpResponse:
    """The user's scheduled mail: tick what to get; saving changes only what changed."""
    user: Any = request.user
    if request.method == "POST":
        try:
            for kind in MailKind.values:
                services.mail_subscription_set(
                    user=user, kind=kind, subscribed=request.POST.get(kind) == "on", by_user=user
                )
        except TandemError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Your e-mail choices are saved.")
        return redirect("integrations:mail")
    context = {
        "subscriptions": selectors.mail_subscriptions_of(user=user),
        "sends": selectors.mail_sends_recent(user=user),
        "configured": selectors.mail_configured(),
    }
    return render(request, "integrations/mail/subscriptions.html", context)


# One-click: mail clients POST here without a CSRF token (RFC 8058); the signed token is the authority, and it
# can only switch one mail off. A GET only asks, so a link scanner opening it changes nothing.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        user_id, kind = unsubscribe_token_read(token=token)
        if kind not in MailKind.values:
            raise NotFound("This unsubscribe link is not valid.", field="token", value=token[:40])
        if request.method == "POST":
            services.mail_unsubscribe(token=token)
            done = True
        else:
            done = False
    except NotFound as exc:
        raise Http404(exc.message) from exc
    response = render(
        request,
        "integrations/mail/unsubscribe.html",
        {"label": MailKind(kind).label, "done": done, "user_id": user_id},
    )
    response["Cache-Control"] = "private, no-store"
    return response


@require_http_methods(["GET"])
def link(request: HttpRequest, token: str) -> HttpResponseBase:
    """A tracked link from an e-mailed asset: the click is recorded, then the asset (its link, or its file)."""
    try:
        asset = services.tracked_link_open(token=token)
    except services.LinkExpired as exc:
        return render(request, "integrations/mail/link_gone.html", {"message": exc.message}, status=410)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if asset.url:
        response: HttpResponseBase = HttpResponseRedirect(asset.url)
    else:
        try:
            handle = default_storage.open(asset.file, "rb")
        except (FileNotFoundError, OSError) as exc:
            raise Http404("The file is no longer available.") from exc
        response = FileResponse(
            handle,
            as_attachment=True,
            filename=asset.original_name or f"asset-{asset.pk}",
            content_type=content_type_of(asset.file),
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
