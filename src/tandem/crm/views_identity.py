"""Duplicate review and merging: the page lists likely duplicates, the merge page picks the survivor."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from tandem.core.errors import NotFound, TandemError
from tandem.crm import selectors
from tandem.crm.services import person_merge


def _allowed(request: HttpRequest) -> None:
    if not selectors.person_merge_allowed(user=request.user):
        raise PermissionDenied("only admins, marketing and sales managers may merge people")


@login_required
def duplicates(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    groups = selectors.person_duplicate_candidates()
    return render(request, "crm/duplicates.html", {"groups": groups})


@login_required
def merge(request: HttpRequest, pk: int, other: int) -> HttpResponse:
    _allowed(request)
    try:
        survivor = selectors.person_get(person_id=pk)
        duplicate = selectors.person_get(person_id=other)
    except NotFound as exc:
        raise Http404(exc.message) from None
    error = None
    if request.method == "POST":
        try:
            person_merge(
                survivor=survivor,
                duplicate=duplicate,
                by_user=request.user,
                reason=request.POST.get("reason", "").strip()[:500],
            )
        except TandemError as exc:
            error = exc.message
        else:
            messages.success(request, f"Merged #{other} into {survivor}.")
            return redirect(reverse("crm:person", args=[pk]))
    context = {"survivor": survivor, "duplicate": duplicate, "error": error}
    return render(request, "crm/merge.html", context, status=422 if error else 200)
