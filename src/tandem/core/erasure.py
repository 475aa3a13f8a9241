"""Redacting one person's identifying text in a table's rows: what every app's `..._erase_person` service uses.

Each owner app says which of its rows are about the person and which columns hold free text or JSON; these
helpers find the rows that mention a needle (tandem.core.redact) and rewrite only the rows that change.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from django.db import models
from django.db.models import Q, QuerySet

from tandem.core.redact import json_forms, json_redact, text_redact


def needle_q(*, text: Sequence[str] = (), json: Sequence[str] = (), needles: Collection[str]) -> Q | None:
    """Rows whose text or JSON columns contain any needle (any case); None when there is nothing to look for."""
    q = Q()
    found = False
    for needle in needles:
        for name in text:
            q |= Q(**{f"{name}__icontains": needle})
            found = True
    for needle in json_forms(needles):
        for name in json:
            q |= Q(**{f"{name}__icontains": needle})
            found = True
    return q if found else None


def rows_redact(
    *,
    rows: QuerySet[Any],
    needles: Collection[str],
    text: Sequence[str] = (),
    json: Sequence[str] = (),
    keys: Collection[str] = (),
    blank: Mapping[str, Any] | None = None,
    batch_size: int = 500,
) -> int:
    """Redact needles in the rows' `text` and `json` columns (and erase JSON values under `keys`), set `blank`
    columns to the given values; write only the rows that changed. Returns how many changed."""
    blank = dict(blank or {})
    fields = [*text, *json, *blank]
    if not fields:
        return 0
    model: type[models.Model] = rows.model
    changed: list[models.Model] = []
    for row in rows.only("pk", *fields).iterator(chunk_size=2000):
        dirty = False
        for name in text:
            old = getattr(row, name)
            new = text_redact(old, needles=needles) if isinstance(old, str) else old
            if new != old:
                setattr(row, name, new)
                dirty = True
        for name in json:
            old = getattr(row, name)
            new = json_redact(old, needles=needles, keys=keys)
            if new != old:
                setattr(row, name, new)
                dirty = True
        for name, value in blank.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
                dirty = True
        if dirty:
            changed.append(row)
    if changed:
        model._default_manager.bulk_update(changed, fields, batch_size=batch_size)
    return len(changed)


def rows_mentioning(
    *, rows: QuerySet[Any], needles: Collection[str], text: Sequence[str] = (), json: Sequence[str] = ()
) -> QuerySet[Any]:
    """The rows of `rows` that mention a needle (none when there are no needles)."""
    q = needle_q(text=text, json=json, needles=needles)
    return rows.filter(q) if q is not None else rows.none()


def rows_plain(rows: Iterable[Mapping[str, object]]) -> list[dict[str, Any]]:
    """Rows read with `.values(...)` as plain dicts (the per-person export's sections)."""
    return [dict(row) for row in rows]
