"""The lost-reason taxonomy: admins and sales managers add, rename, retire and restore the reasons reps pick."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tandem.core.errors import NotFound, TandemError
from tandem.crm.models import LostReason
from tandem.feedback import selectors
from tandem.feedback.services import lost_reason_create, lost_reason_rename, lost_reason_set_active


def _reason(reason_id: int) -> LostReason:
    try:
        return selectors.lost_reason_get(reason_id=reason_id)
    except NotFound as exc:
        raise Http404(exc.message) from None


@login_required
@permission_required("crm.view_lostreason", raise_exception=True)
def lost_reasons(request: HttpRequest) -> HttpResponse:
    status, form = 200, {"name": "", "description": ""}
    if request.method == "POST":
        if not request.user.has_perm("crm.add_lostreason"):
            raise PermissionDenied("your role may not add lost reasons")
        form = {k: request.POST.get(k, "") for k in form}
        try:
            reason = lost_reason_create(
                name=form["name"], description=form["description"], by_user=request.user
            )
        except TandemError as exc:
            messages.error(request, exc.message)
            status = exc.status_code
        else:
            messages.success(request, f"Added “{reason.name}”.")
            return redirect("crm:lost-reasons")
    context = {
        "reasons": selectors.lost_reasons_list(),
        "form": form,
        "can_add": request.user.has_perm("crm.add_lostreason"),
        "can_change": request.user.has_perm("crm.change_lostreason"),
    }
    return render(request, "crm/lost_reasons.html", context, status=status)


@login_required
@permission_required("crm.change_lostreason", raise_exception=True)
@require_POST
def lost_reason_edit(request: HttpRequest, reason_id: int) -> HttpResponse:
    reason = _reason(reason_id)
    action = request.POST.get("action", "rename")
    try:
        if action == "rename":
            old = reason.name
            lost_reason_rename(
                reason=reason,
                name=request.POST.get("name", ""),
                description=request.POST.get("description"),
                by_user=request.user,
            )
            messages.success(request, f"Renamed “{old}” to “{reason.name}”.")
        else:
            lost_reason_set_active(reason=reason, active=action == "restore", by_user=request.user)
            messages.success(request, f"“{reason.name}” {'restored' if reason.is_active else 'retired'}.")
    except TandemError as exc:
        messages.error(request, exc.message)
    return redirect("crm:lost-reasons")


@login_required
@permission_required("crm.view_deal", raise_exception=True)
def lost_reason_options(request: HttpRequest) -> HttpResponse:
    """The <option>s of the deal-lost select, loaded lazily so the person page's own queries stay pinned."""
    return render(
        request,
        "crm/_lost_reason_options.html",
        {"reasons": selectors.lost_reasons_list(include_retired=False)},
    )
