"""Pages for personal data: the person page's export download, and the erase page (type the e-mail, give a reason)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.http import require_perm, zip_response
from tandem.crm.selectors import person_get
from tandem.privacy import services
from tandem.privacy.selectors import privacy_erase_allowed
from tandem.users.access import access_check


def _person(request: HttpRequest, pk: int) -> Any:
    try:
        return person_get(person_id=pk, user=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from None


def confirmation_of(person: Any) -> str:
    """What the admin types to confirm an erasure: the person's e-mail, else their name, else their number."""
    return person.email or person.full_name or f"#{person.pk}"


@login_required
@permission_required("crm.change_person", raise_exception=True)
def person_export(request: HttpRequest, pk: int) -> HttpResponse:
    # Exporting everything about a person is for who may change them (their owner, the team's manager, admins).
    person = access_check(_person(request, pk), user=request.user, write=True)
    try:
        data = services.person_export(person=person, by_user=request.user, via="ui")
    except TandemError as exc:
        messages.error(request, exc.message)
        return redirect("crm:person", pk=pk)
    return zip_response(data=data, filename=f"tandem-person-{person.pk}.zip")


@login_required
def person_erase(request: HttpRequest, pk: int) -> HttpResponse:
    require_perm(
        request, allowed=privacy_erase_allowed(user=request.user), action="erase people (admins only)"
    )
    person = _person(request, pk)
    if person.erased_at is not None:
        messages.info(request, f"Person #{person.pk} was erased on {person.erased_at:%Y-%m-%d}.")
        return redirect("crm:person", pk=pk)
    wanted = confirmation_of(person)
    form = {"confirm": "", "reason": ""}
    error: TandemError | None = None
    if request.method == "POST":
        form = {k: request.POST.get(k, "") for k in form}
        try:
            if form["confirm"].strip().casefold() != wanted.casefold():
                raise ValidationFailed(
                    "type the person's e-mail (or name, or number, as asked) exactly to confirm",
                    field="confirm",
                    value=None,
                )
            result = services.person_erase(
                person=person, reason=form["reason"], by_user=request.user, via="ui"
            )
        except TandemError as exc:
            error = exc
        else:
            messages.success(
                request, f"Person #{result.person_id} erased: {sum(result.counts.values())} rows changed."
            )
            return redirect("crm:person", pk=pk)
    context = {
        "person": person,
        "wanted_label": "e-mail" if person.email else "name" if person.full_name else "number",
        "form": form,
        "error": error,
    }
    return render(request, "privacy/erase.html", context, status=error.status_code if error else 200)
