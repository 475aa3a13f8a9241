"""Reads for CSV imports: which mapping a name stands for, the mappings on offer, jobs and who may import."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from tandem.capture.csvimport.mapping import KINDS, Mapping, auto_map
from tandem.capture.csvimport.presets import PRESETS, mapping_for_headers, preset_detect, preset_get
from tandem.capture.models import ImportJob, ImportMapping
from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.textfiles import text_read
from tandem.core.uploads import upload_local_path
from tandem.users.models import Role

AUTO = "auto"
# The external id system of a file mapped automatically that no preset recognised.
AUTO_SYSTEM = "csv"


def import_access_allowed(*, user: Any) -> bool:
    """Admins and marketing may import CSV files (they own the lists); sales and viewers may not."""
    # Record-level access (tandem.users.access): both roles reach every record, so an import never overwrites a
    # person, deal or activity its importer could not change by hand. Letting a sales role import would need
    # each row checked (refused with a row error) first.
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser or getattr(user, "role", "") in (Role.ADMIN, Role.MARKETING))


def mapping_stored(*, name: str) -> Mapping | None:
    row = ImportMapping.objects.filter(name=name).first()
    if row is None:
        return None
    return Mapping(
        name=row.name,
        kind=row.kind,
        columns=dict(row.columns),
        options=dict(row.options),
        description=row.description,
    )


def mapping_resolve(*, name: str, kind: str, headers: Sequence[str]) -> Mapping:
    """The mapping `--mapping NAME` means for a file with these headers: `auto` (a shipped mapping the
    headers identify, else a guess by header similarity), a saved mapping, else a shipped one."""
    if kind not in KINDS:
        raise ValidationFailed(
            f"unknown kind {kind!r} (expected {', '.join(KINDS)})", field="kind", value=kind
        )
    if name == AUTO:
        found = preset_detect(headers=headers, kind=kind)
        if found is not None:
            return found
        columns = auto_map(headers=headers, kind=kind)
        return Mapping(name=AUTO, kind=kind, columns=columns, options={"external_id_system": AUTO_SYSTEM})
    mapping = mapping_stored(name=name) or preset_get(name)
    if mapping is None:
        known = ", ".join([AUTO, *mapping_names()])
        raise ValidationFailed(f"no mapping named {name!r} (known: {known})", field="mapping", value=name)
    if mapping.kind != kind:
        raise ValidationFailed(
            f"mapping {name!r} is for {mapping.kind}, not {kind}", field="mapping", value=name
        )
    return mapping_for_headers(mapping=mapping, headers=headers)


def mapping_names(*, kind: str | None = None) -> list[str]:
    """Saved mappings and the shipped ones (a saved one hides a shipped one of the same name), sorted."""
    saved = ImportMapping.objects.all()
    if kind:
        saved = saved.filter(kind=kind)
    names = set(saved.values_list("name", flat=True))
    names |= {n for n, p in PRESETS.items() if kind is None or p["kind"] == kind}
    return sorted(names)


def mapping_list() -> list[dict[str, Any]]:
    """Every mapping on offer: name, kind, where it comes from (saved or shipped), description, columns."""
    saved = {m.name: m for m in ImportMapping.objects.all()}
    out: list[dict[str, Any]] = []
    for name in sorted(set(saved) | set(PRESETS)):
        row = saved.get(name)
        if row is not None:
            out.append(
                {
                    "name": name,
                    "kind": row.kind,
                    "source": "saved",
                    "description": row.description,
                    "columns": len(row.columns),
                }
            )
        else:
            preset = PRESETS[name]
            out.append(
                {
                    "name": name,
                    "kind": preset["kind"],
                    "source": "shipped",
                    "description": preset["description"],
                    "columns": len(preset["columns"]),
                }
            )
    return out


def import_job_get(*, job_id: int) -> ImportJob:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound(f"no import job {job_id}", field="job_id", value=job_id)
    return job


def import_job_list(*, limit: int = 20) -> list[ImportJob]:
    return list(ImportJob.objects.select_related("created_by").order_by("-created_at", "-id")[:limit])


# ---- personal data (tandem.privacy): rows of stored import files naming one person ----


def import_file_rows(*, path: str, needles: Sequence[str]) -> tuple[list[str], list[list[str]], list[list[str]], str]:
    """A stored CSV file (its storage name) read as (header, rows naming a needle, other rows, delimiter); empty when unreadable."""
    # Read as the import read it (any encoding and delimiter: tandem.core.textfiles), or a Windows-1252 upload
    # would keep the rows of a person erased from it.
    try:
        with upload_local_path(name=path) as local:
            text, fmt = text_read(source=local)
    except (OSError, TandemError):
        return [], [], [], ","
    delimiter = fmt.delimiter
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    if not rows:
        return [], [], [], delimiter
    folded = [n.casefold() for n in needles]
    naming: list[list[str]] = []
    others: list[list[str]] = []
    for row in rows[1:]:
        (naming if any(n in cell.casefold() for cell in row for n in folded) else others).append(row)
    return rows[0], naming, others, delimiter


def import_rows_export_person(*, needles: Sequence[str]) -> list[dict[str, Any]]:
    """The rows of every stored import file (and refused-rows file) that name the person, with the job and file."""
    out: list[dict[str, Any]] = []
    if not needles:
        return out
    for job in ImportJob.objects.order_by("id").only("pk", "file_name", "stored_path", "refused_path"):
        for which, path in (("uploaded", job.stored_path), ("refused", job.refused_path)):
            if not path:
                continue
            header, naming, _, _ = import_file_rows(path=path, needles=needles)
            for row in naming:
                out.append({"job_id": job.pk, "file": job.file_name, "which": which, "row": dict(zip(header, row, strict=False))})
    return out
