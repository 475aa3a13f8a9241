"""Pages for CSV imports under /data/imports/: upload, correct the mapping, dry run, run, follow progress."""

from __future__ import annotations

from functools import wraps
from pathlib import Path
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.capture.csvimport.mapping import (
    CUSTOM,
    KINDS,
    OUTCOMES_ORDER,
    custom_key,
    field_choices,
    table_read,
    table_sample,
)
from tandem.capture.csvimport.selectors import (
    AUTO,
    import_access_allowed,
    import_job_get,
    import_job_list,
    mapping_names,
    mapping_resolve,
)
from tandem.capture.csvimport.services import (
    import_job_configure,
    import_job_confirm,
    import_job_create,
    import_job_start,
)
from tandem.capture.models import ImportJob
from tandem.core.errors import NotFound, TandemError
from tandem.core.http import csv_response, require_perm
from tandem.core.uploads import upload_local_path, upload_open

REPORT_PAGE = 100
MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def _importers_only(view: Any) -> Any:
    @wraps(view)
    @login_required
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        require_perm(
            request,
            allowed=import_access_allowed(user=request.user),
            message="Only admins and marketing may import CSV files.",
        )
        return view(request, *args, **kwargs)

    return wrapper


def _job(job_id: int) -> ImportJob:
    try:
        return import_job_get(job_id=job_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _list_context(**extra: Any) -> dict[str, Any]:
    return {
        "kinds": KINDS,
        "mappings": [AUTO, *mapping_names()],
        "jobs": import_job_list(),
        **extra,
    }


@require_GET
@_importers_only
def imports_page(request: HttpRequest) -> HttpResponse:
    return render(request, "capture/imports/list.html", _list_context())


@require_POST
@_importers_only
def import_upload(request: HttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    kind = request.POST.get("kind", "people")
    name = request.POST.get("mapping", AUTO) or AUTO
    error: dict[str, Any] | None = None
    if upload is None:
        error = {"detail": "choose a CSV file to import", "field": "file"}
    elif upload.size is not None and upload.size > MAX_UPLOAD_BYTES:
        error = {"detail": f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB", "field": "file"}
    else:
        try:
            data = upload.read()
            table = table_read(data=data, name=upload.name or "upload.csv")
            mapping = mapping_resolve(name=name, kind=kind, headers=table.headers)
            # Every header shows on the next page: those the mapping leaves out start as "ignore".
            mapping.columns = {h: mapping.columns.get(h, "") for h in table.headers}
            job = import_job_create(
                data=data,
                file_name=upload.name or "upload.csv",
                mapping=mapping,
                dry_run=True,
                by_user=request.user,
                check=False,
            )
        except TandemError as exc:
            error = exc.as_dict()
        else:
            return redirect("capture:import-setup", job_id=job.pk)
    context = _list_context(error=error, kind=kind, mapping=name)
    return render(request, "capture/imports/list.html", context, status=422)


def _headers(job: ImportJob) -> list[str]:
    return list(job.mapping.get("headers") or job.mapping.get("columns", {}))


def _setup_rows(job: ImportJob) -> list[dict[str, Any]]:
    choices = field_choices(job.kind)
    try:
        with upload_local_path(name=job.stored_path) as path:
            samples = table_sample(data=path, headers=_headers(job), rows=3)
    except OSError:
        samples = {}
    rows = []
    columns = job.mapping.get("columns", {})
    for index, header in enumerate(_headers(job)):
        target = columns.get(header, "")
        custom = CUSTOM + custom_key(header)
        options = [("", "— ignore —"), *choices]
        if target.startswith(CUSTOM) and target != custom:
            options.append((target, f"custom field {target[len(CUSTOM) :]}"))
        options.append((custom, f"custom field {custom_key(header)}"))
        rows.append(
            {
                "index": index,
                "header": header,
                "target": target,
                "options": options,
                "samples": samples.get(header, []),
            }
        )
    return rows


@require_http_methods(["GET", "POST"])
@_importers_only
def import_setup(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(job_id)
    if job.status != ImportJob.Status.QUEUED:
        return redirect("capture:import-job", job_id=job.pk)
    error: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        headers = _headers(job)
        columns = {h: request.POST.get(f"col_{i}", "") for i, h in enumerate(headers)}
        try:
            import_job_configure(
                job=job,
                columns=columns,
                mode=request.POST.get("mode", ImportJob.Mode.ALL_OR_NOTHING),
                dry_run=request.POST.get("action", "dry_run") != "run",
                save_as=request.POST.get("save_as", "").strip(),
                by_user=request.user,
            )
            import_job_start(job=job)
        except TandemError as exc:
            error, status = exc.as_dict(), exc.status_code
            job.mapping["columns"].update(columns)
        else:
            return redirect("capture:import-job", job_id=job.pk)
    context = {"job": job, "rows": _setup_rows(job), "error": error, "modes": ImportJob.Mode.choices}
    return render(request, "capture/imports/setup.html", context, status=status)


def _percent(job: ImportJob) -> int:
    if job.status == ImportJob.Status.DONE:
        return 100
    return int(100 * job.processed_rows / job.total_rows) if job.total_rows else 0


@require_GET
@_importers_only
def import_job_page(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(job_id)
    outcome = request.GET.get("outcome", "")
    rows = [r for r in job.report if "line" in r and (not outcome or r.get("outcome") == outcome)]
    page = Paginator(rows, REPORT_PAGE).get_page(request.GET.get("page"))
    failure = job.report[0].get("error") if job.status == ImportJob.Status.FAILED and job.report else None
    context = {
        "job": job,
        "percent": _percent(job),
        "page": page,
        "outcome": outcome,
        "outcomes": OUTCOMES_ORDER,
        "failure": failure,
        "reported": len([r for r in job.report if "line" in r]),
    }
    return render(request, "capture/imports/job.html", context)


@require_GET
@_importers_only
def import_job_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(job_id)
    response = render(request, "capture/imports/_progress.html", {"job": job, "percent": _percent(job)})
    if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
        # Finished: the whole page reloads to show the counts and the row report.
        response["HX-Refresh"] = "true"
    return response


@require_POST
@_importers_only
def import_job_run_for_real(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(job_id)
    try:
        real = import_job_confirm(job=job, by_user=request.user)
    except TandemError as exc:
        context = {
            "job": job,
            "percent": _percent(job),
            "page": None,
            "outcomes": OUTCOMES_ORDER,
            "error": exc.as_dict(),
        }
        return render(request, "capture/imports/job.html", context, status=exc.status_code)
    import_job_start(job=real)
    return redirect("capture:import-job", job_id=real.pk)


@require_GET
@_importers_only
def import_job_refused(request: HttpRequest, job_id: int) -> FileResponse:
    job = _job(job_id)
    handle = upload_open(name=job.refused_path)
    if handle is None:
        raise Http404("this import refused no rows")
    name = Path(job.file_name).stem + "-refused.csv"
    return csv_response(filename=name, file=handle)
