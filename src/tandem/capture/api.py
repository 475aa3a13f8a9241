"""REST endpoints for the interchange bundle: upload a .zip to import it, download the database as one."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import File, Router, Schema
from ninja.files import UploadedFile

from tandem.capture.selectors import bundle_access_allowed
from tandem.capture.services import bundle_export_archive, bundle_import_archive
from tandem.capture.views import bundle_download
from tandem.core.http import require_perm

router = Router(tags=["bundle"])


class RowCountsOut(Schema):
    created: int
    updated: int
    unchanged: int


class BundleImportOut(Schema):
    files: dict[str, RowCountsOut]
    accounts: RowCountsOut
    lost_reasons_created: int
    stage_changes: int


class BundleErrorOut(Schema):
    detail: str
    file: str
    line: int
    column: str
    field: str
    value: str


class CaptureDetailOut(Schema):
    detail: str


def _require_admin(request: HttpRequest) -> Any:
    return require_perm(
        request,
        allowed=bundle_access_allowed(user=request.user),
        message="only admins may import or export whole bundles",
    )


@router.post(
    "/bundle/import",
    response={200: BundleImportOut, 403: CaptureDetailOut, 422: BundleErrorOut},
    summary="Import a bundle (.zip of CSV files)",
)
def bundle_import_upload(request: HttpRequest, file: File[UploadedFile]) -> dict[str, Any]:
    """Import an interchange bundle: a .zip holding people.csv and optionally campaigns.csv,
    touchpoints.csv, deals.csv and questions.csv (see docs/bundle.md). All or nothing: a bad row answers
    422 naming its file, line, column and value, and nothing is written. Admins only."""
    user = _require_admin(request)
    return bundle_import_archive(archive=file, by_user=user).as_dict()


@router.get(
    "/bundle/export",
    response={200: None, 403: CaptureDetailOut},
    summary="Export the database as a bundle (.zip of CSV files)",
)
def bundle_export_download(request: HttpRequest) -> HttpResponse:
    """The whole database as an interchange bundle: a .zip of the five CSV files. Admins only."""
    _require_admin(request)
    return bundle_download(data=bundle_export_archive())
