"""The data page: import a bundle from a .zip, export the database as one (admins only)."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from tandem.capture.bundle import FILES
from tandem.capture.selectors import bundle_access_allowed, bundle_table_counts
from tandem.capture.services import bundle_export_archive, bundle_import_archive
from tandem.core.errors import TandemError
from tandem.core.http import require_perm, zip_response


def bundle_download(*, data: bytes) -> HttpResponse:
    """A bundle .zip as a download named after today's date."""
    return zip_response(data=data, filename=f"tandem-bundle-{timezone.now():%Y-%m-%d}.zip")


def _admins_only(view: Any) -> Any:
    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        require_perm(
            request,
            allowed=bundle_access_allowed(user=request.user),
            message="Only admins may import or export whole bundles.",
        )
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@_admins_only
def data_page(request: HttpRequest) -> HttpResponse:
    return render(request, "capture/data.html", {"counts": bundle_table_counts(), "files": FILES})


@require_POST
@_admins_only
def data_import(request: HttpRequest) -> HttpResponse:
    archive = request.FILES.get("archive")
    context: dict[str, Any] = {"files": FILES}
    status = 200
    if archive is None:
        context["error"] = {"detail": "choose a .zip file holding the bundle's CSV files"}
        status = 422
    else:
        try:
            context["result"] = bundle_import_archive(archive=archive, by_user=request.user)  # type: ignore[arg-type]
        except TandemError as exc:
            context["error"] = exc.as_dict()
            status = exc.status_code
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "capture/_import_result.html", context, status=status)
    context["counts"] = bundle_table_counts()
    return render(request, "capture/data.html", context, status=status)


@require_GET
@_admins_only
def data_export(request: HttpRequest) -> HttpResponse:
    return bundle_download(data=bundle_export_archive())
