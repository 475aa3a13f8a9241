"""REST endpoint of the one search: `GET /api/search?q=…&kind=…&limit=…`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from tandem.core.http import NoNul, require_perm
from tandem.search import selectors

router = Router(tags=["search"])


class SearchQuery(Schema):
    q: Annotated[str, Field(min_length=1, max_length=selectors.MAX_QUERY), NoNul] = Field(
        ..., description="part of a name, e-mail, company or domain (deals and campaigns: of their name)"
    )
    kind: Literal["person", "account", "deal", "campaign"] | None = Field(
        None, description="only this kind (all the caller may see when absent)"
    )
    limit: int = Field(selectors.DEFAULT_LIMIT, ge=1, le=selectors.MAX_LIMIT, description="hits per kind")


class HitOut(Schema):
    kind: str
    id: int
    title: str
    subtitle: str
    match: Literal["exact", "prefix", "substring"]
    url: str


class GroupOut(Schema):
    kind: str
    label: str
    hits: list[HitOut]
    more: bool = Field(..., description="more records of this kind matched than are listed")


class SearchOut(Schema):
    q: str = Field(..., description="the query as matched: lower case, single spaces")
    groups: list[GroupOut]


@router.get("/search", response=SearchOut)
def search(request: HttpRequest, filters: Query[SearchQuery]) -> Any:
    """People, accounts, deals and campaigns matching q, ranked exact > prefix > substring, grouped by kind."""
    if filters.kind:
        require_perm(
            request,
            selectors.KIND_PERMS[filters.kind],
            action=f"search {selectors.KIND_LABELS[filters.kind].lower()}",
        )
    return selectors.search(q=filters.q, user=request.user, kinds=filters.kind, limit=filters.limit)
