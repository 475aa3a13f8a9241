"""Keyset pages of any queryset sorted by one column and id, with the opaque cursors of tandem.core.keyset.

The API's lists answer `{"items", "next_cursor", "prev_cursor"}` and take `cursor` and `limit` (docs/api.md#paging);
this is the one way to cut such a page for a list that has no index-tuned paging of its own (crm's people list
has). The sort column must be non-null; ties are broken by id, so a page boundary is exact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from django.db import models
from django.db.models import Q, QuerySet
from ninja import Query

from tandem.core.errors import ValidationFailed
from tandem.core.keyset import Cursor, cursor_decode, cursor_encode

PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

# The two query parameters every paged API list takes, documented alike everywhere.
CursorParam = Annotated[
    str,
    Query(
        max_length=2000,
        description="`next_cursor` or `prev_cursor` of the previous answer; empty: the first page",
    ),
]
LimitParam = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"rows per page, 1 to {MAX_PAGE_SIZE}")]


@dataclass(frozen=True)
class KeysetPage:
    """One page of a list; the cursors are None where there is nothing further."""

    items: list[Any]
    next_cursor: str | None
    prev_cursor: str | None


def _key_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def _key_parse(queryset: QuerySet[Any], field: str, text: str, cursor: str) -> Any:
    model_field = queryset.model._meta.get_field(field)
    try:
        if isinstance(model_field, models.DateTimeField):
            return dt.datetime.fromisoformat(text)
        if isinstance(model_field, models.DateField):
            return dt.date.fromisoformat(text)
        if isinstance(model_field, models.DecimalField):
            return Decimal(text)
        if isinstance(model_field, models.FloatField):
            return float(text)
        if isinstance(model_field, models.IntegerField | models.AutoField | models.ForeignKey):
            return int(text)
    except (ValueError, InvalidOperation):
        raise ValidationFailed(
            f"cursor {cursor!r} is not a valid page cursor", field="cursor", value=cursor
        ) from None
    return text


def keyset_page(
    *,
    queryset: QuerySet[Any],
    order: str,
    field: str = "id",
    descending: bool = True,
    cursor: str = "",
    limit: int = PAGE_SIZE,
    max_limit: int = MAX_PAGE_SIZE,
) -> KeysetPage:
    """A page of `queryset` sorted by (`field`, id), `descending` or not; `order` names the sort in the cursor."""
    if not 1 <= limit <= max_limit:
        raise ValidationFailed(
            f"limit must be between 1 and {max_limit}, got {limit}", field="limit", value=limit
        )
    keys = (field, "id") if field != "id" else ("id",)
    ascending_sort = list(keys)
    descending_sort = [f"-{k}" for k in keys]
    forward = descending_sort if descending else ascending_sort
    boundary = cursor_decode(cursor, order=order) if cursor else None
    qs = queryset.order_by(*forward)
    if boundary is not None:
        # Forward on a descending list means smaller keys; a backward cursor flips both the side and the sort.
        smaller = descending != boundary.backward
        if field == "id":
            beyond = Q(id__lt=boundary.id) if smaller else Q(id__gt=boundary.id)
        else:
            key = _key_parse(queryset, field, boundary.key, cursor)
            # (key, id) beyond the boundary, spelled so that a (key, id) index bounds the scan.
            if smaller:
                beyond = Q(**{f"{field}__lte": key}) & (Q(**{f"{field}__lt": key}) | Q(id__lt=boundary.id))
            else:
                beyond = Q(**{f"{field}__gte": key}) & (Q(**{f"{field}__gt": key}) | Q(id__gt=boundary.id))
        backward_sort = ascending_sort if descending else descending_sort
        qs = queryset.filter(beyond).order_by(*(backward_sort if boundary.backward else forward))
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    items = rows[:limit]
    going_back = boundary is not None and boundary.backward
    if going_back:
        items.reverse()
    if not items:
        return KeysetPage(items=[], next_cursor=None, prev_cursor=None)
    # Going backward, the boundary row itself proves there is a next page; going forward, a cursor proves there
    # was a previous one.
    has_next = True if going_back else more
    has_prev = more if going_back else boundary is not None
    first, last = items[0], items[-1]
    return KeysetPage(
        items=items,
        next_cursor=cursor_encode(Cursor(order, _key_text(getattr(last, field)), last.pk))
        if has_next
        else None,
        prev_cursor=(
            cursor_encode(Cursor(order, _key_text(getattr(first, field)), first.pk, backward=True))
            if has_prev
            else None
        ),
    )


def page_dict(page: KeysetPage, item: Callable[[Any], Any]) -> dict[str, Any]:
    """The API's page body: `items` (each row through `item`), `next_cursor`, `prev_cursor`."""
    return {
        "items": [item(row) for row in page.items],
        "next_cursor": page.next_cursor,
        "prev_cursor": page.prev_cursor,
    }
