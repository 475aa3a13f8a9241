"""The person page's consent panel: the current state per channel, the history, and recording a change."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.http import require_perm
from tandem.crm.consent import selectors
from tandem.crm.consent.services import consent_record
from tandem.crm.models import ConsentChannel, ConsentSource
from tandem.crm.selectors import person_get
from tandem.users.access import access_allows, access_check


def _context(request: HttpRequest, person: Any, **extra: Any) -> dict[str, Any]:
    history = selectors.consent_history(person_id=person.pk)
    return {
        "person": person,
        "states": selectors.consent_state(person=person, history=history),
        "history": history,
        "channels": ConsentChannel.choices,
        "can_change": request.user.has_perm("crm.change_person")
        and access_allows(person, user=request.user, write=True),
        **extra,
    }


@login_required
@permission_required("crm.view_person", raise_exception=True)
def consent_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the panel (loaded by the person page). POST: record a grant or withdrawal, then the panel again."""
    try:
        person = person_get(person_id=pk, user=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from None
    if request.method != "POST":
        return render(request, "crm/consent/_panel.html", _context(request, person))
    require_perm(request, "crm.change_person", action="record consent")
    access_check(person, user=request.user, write=True)
    error = None
    choice = request.POST.get("granted", "")
    try:
        if choice not in ("yes", "no"):
            raise ValidationFailed(
                "say whether consent was given or withdrawn", field="granted", value=choice
            )
        record = consent_record(
            person=person,
            channel=request.POST.get("channel", ""),
            granted=choice == "yes",
            source=ConsentSource.UI,
            by_user=request.user,
            note=request.POST.get("note", ""),
        )
    except TandemError as exc:
        error = exc
        status = exc.status_code
    else:
        status = 200
    if not getattr(request, "htmx", False):
        if error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                f"Recorded: {record.get_channel_display()} consent {'given' if record.granted else 'withdrawn'}.",
            )
        return redirect("crm:person", pk=pk)
    done = (
        None
        if error
        else f"{record.get_channel_display()} consent {'given' if record.granted else 'withdrawn'}."
    )
    return render(
        request, "crm/consent/_panel.html", _context(request, person, error=error, done=done), status=status
    )
