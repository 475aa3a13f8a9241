"""REST endpoints for CSV imports: upload a file (dry run or real), follow the job, fetch refused rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.http import FileResponse, HttpRequest
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from tandem.capture.csvimport.mapping import table_read
from tandem.capture.csvimport.selectors import (
    AUTO,
    import_access_allowed,
    import_job_get,
    mapping_list,
    mapping_resolve,
)
from tandem.capture.csvimport.services import import_job_create, import_job_start, mapping_save
from tandem.capture.csvimport.views import MAX_UPLOAD_BYTES
from tandem.capture.models import ImportJob
from tandem.core.errors import NotFound, ValidationFailed
from tandem.core.http import csv_response, require_perm
from tandem.core.uploads import upload_open

router = Router(tags=["imports"])


class ImportDetailOut(Schema):
    detail: str
    field: str | None = None
    value: str | None = None


class MappingOut(Schema):
    name: str
    kind: str
    source: str
    description: str
    columns: int


class ImportJobOut(Schema):
    id: int
    kind: str
    file_name: str
    mapping_name: str
    mode: str
    dry_run: bool
    status: str
    detected: str
    total_rows: int
    processed_rows: int
    counts: dict[str, int]
    error: str
    refused_rows_url: str | None
    report: list[dict[str, Any]]


def _require_importer(request: HttpRequest) -> Any:
    return require_perm(
        request,
        allowed=import_access_allowed(user=request.user),
        message="only admins and marketing may import CSV files",
    )


def _job_out(job: ImportJob, *, report_limit: int = 100) -> dict[str, Any]:
    return {
        "id": job.pk,
        "kind": job.kind,
        "file_name": job.file_name,
        "mapping_name": job.mapping_name,
        "mode": job.mode,
        "dry_run": job.dry_run,
        "status": job.status,
        # The file's encoding and delimiter as read: "Windows-1252, semicolon-separated".
        "detected": str((job.mapping or {}).get("detected", "")),
        "total_rows": job.total_rows,
        "processed_rows": job.processed_rows,
        "counts": job.counts or {},
        "error": job.error,
        "refused_rows_url": f"/api/imports/{job.pk}/refused" if job.refused_path else None,
        "report": list(job.report[:report_limit]),
    }


@router.get(
    "/imports/mappings", response={200: list[MappingOut], 403: ImportDetailOut}, summary="List CSV mappings"
)
def imports_mappings(request: HttpRequest) -> list[dict[str, Any]]:
    """The saved mappings and the ones Tandem ships (hubspot, salesforce, x-education, olist-mql, olist-deals)."""
    _require_importer(request)
    return mapping_list()


@router.post(
    "/imports/csv",
    response={200: ImportJobOut, 202: ImportJobOut, 403: ImportDetailOut, 404: ImportDetailOut, 422: ImportDetailOut},
    summary="Import a CSV file of people, touchpoints or deals",
)
def imports_csv_upload(
    request: HttpRequest,
    file: File[UploadedFile],
    kind: Form[str] = "people",
    mapping: Form[str] = AUTO,
    mode: Form[str] = "all_or_nothing",
    dry_run: Form[bool] = False,
    save_mapping: Form[str] = "",
) -> Any:
    """Upload a CSV file. `mapping`: auto, hubspot, salesforce or a saved name. `mode`: all_or_nothing
    (one bad row refuses the file: the job fails naming its row, column and value) or good_rows (the good
    rows are imported; the refused ones, with reasons, download from `refused_rows_url`). `dry_run` reports
    each row's outcome and writes nothing. Files over 2,000 rows run in the background: the answer is 202
    and GET /api/imports/{id} follows the job. Admins and marketing only."""
    user = _require_importer(request)
    if file.size is not None and file.size > MAX_UPLOAD_BYTES:
        raise ValidationFailed(
            f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", field="file", value=file.size
        )
    data = file.read()
    name = file.name or "upload.csv"
    table = table_read(data=data, name=name)
    resolved = mapping_resolve(name=mapping, kind=kind, headers=table.headers)
    job = import_job_create(
        data=data, file_name=name, mapping=resolved, mode=mode, dry_run=dry_run, by_user=user
    )
    if save_mapping:
        mapping_save(name=save_mapping, mapping=resolved, by_user=user)
    background = import_job_start(job=job)
    job.refresh_from_db()
    return Status(202 if background else 200, _job_out(job))


@router.get(
    "/imports/{job_id}", response={200: ImportJobOut, 403: ImportDetailOut, 404: ImportDetailOut}, summary="An import job"
)
def imports_job(request: HttpRequest, job_id: int, report_limit: int = 100) -> dict[str, Any]:
    """An import job's status, progress, counts and (up to report_limit) row outcomes."""
    _require_importer(request)
    return _job_out(import_job_get(job_id=job_id), report_limit=max(0, min(report_limit, 2000)))


@router.get(
    "/imports/{job_id}/refused",
    response={200: None, 403: ImportDetailOut, 404: ImportDetailOut},
    summary="The refused rows of an import (CSV)",
)
def imports_job_refused(request: HttpRequest, job_id: int) -> FileResponse:
    """The refused rows as CSV: the file's own columns, then error_field, error_value and error."""
    _require_importer(request)
    job = import_job_get(job_id=job_id)
    handle = upload_open(name=job.refused_path)
    if handle is None:
        raise NotFound(f"import job {job_id} refused no rows", field="job_id", value=job_id)
    name = Path(job.file_name).stem + "-refused.csv"
    return csv_response(filename=name, file=handle)
