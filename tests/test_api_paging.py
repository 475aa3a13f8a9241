"""Every list in the API pages with `cursor` and `limit` (docs/api.md#paging), read from the OpenAPI document: a list
answering `{"items": ...}` must take both, and a list answering a bare array must be a bounded one named below."""

from __future__ import annotations

from typing import Any

from tandem.api import api

DOCUMENT = api.get_openapi_schema(path_prefix="/api")
SCHEMAS = DOCUMENT["components"]["schemas"]

# Lists that are not paged, each with why it stays small. A bare array is only allowed here.
BOUNDED: dict[str, str] = {
    "/api/people/duplicates": "ranked groups of likely duplicates, at most `limit`: a work list to clear",
    "/api/deals/{deal_id}/history": "one deal's stage moves",
    "/api/deals/{deal_id}/contacts": "one deal's contacts",
    "/api/pipelines": "configuration: a company's few pipelines",
    "/api/activity-kinds": "a taxonomy of a dozen kinds",
    "/api/imports/mappings": "configuration: saved column mappings and the built-in presets",
    "/api/capture/forms": "configuration: the company's web-to-lead forms",
    "/api/capture/unknown-utm": "a triage list sorted by a count that grows while it is read (keyset pages would "
    "skip or repeat tags); the 200 most frequent, decided tags leave it",
    "/api/scoring/queue": "the rep's 100 best open leads by a score that changes: a work list, not a record list",
    "/api/themes": "live themes: clustering keeps them to tens",
    "/api/lost-reasons": "a taxonomy",
    "/api/enablement/gaps": "themes without content, derived from the live themes",
    "/api/enablement/products": "configuration: the product list",
    "/api/enablement/personas": "configuration: the personas",
    "/api/collateral/lead-times": "one row per request type",
    "/api/collateral/suggestions": "repeated requests suggested for the library, derived and few",
    "/api/people/{person_id}/campaigns": "campaigns running today that touched the person",
    "/api/sign-in/locks": "locks in force now; each ends after the cool-off",
    "/api/teams": "the company's teams, a handful",
    "/api/webhooks/event-types": "an enumeration",
    "/api/webhooks/endpoints": "configuration: the subscribed endpoints",
    "/api/campaigns/calendar": "one month's campaigns (`month` picks the month)",
    "/api/mail/subscriptions": "one row per kind of scheduled mail",
}


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _lists() -> dict[str, tuple[str, set[str]]]:
    """Every GET answering a list: path → ("page" or "array", its parameter names)."""
    found = {}
    for path, operations in DOCUMENT["paths"].items():
        operation = operations.get("get")
        if operation is None:
            continue
        content = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        if content is None:
            continue
        body = _resolve(content["schema"])
        names = {p["name"] for p in operation.get("parameters", [])}
        if body.get("type") == "array":
            found[path] = ("array", names)
        elif "items" in body.get("properties", {}):
            found[path] = ("page", names)
    return found


def test_every_paged_list_takes_cursor_and_limit():
    # given every list answering {"items": ...}
    pages = {path: names for path, (kind, names) in _lists().items() if kind == "page"}
    # when its parameters are read
    missing = sorted(
        path for path, names in pages.items() if path not in BOUNDED and not {"cursor", "limit"} <= names
    )
    # then each takes both
    assert len(pages) >= 25
    assert missing == []


def test_every_bare_array_list_is_a_bounded_one():
    # given every list answering a bare JSON array (no room for cursors)
    arrays = sorted(path for path, (kind, _) in _lists().items() if kind == "array")
    # then it is a bounded list, with the reason written down above
    assert [path for path in arrays if path not in BOUNDED] == []


def test_the_paged_lists_answer_next_and_prev_cursor():
    # given every paged list with cursor and limit
    pages = [
        path for path, (kind, names) in _lists().items() if kind == "page" and {"cursor", "limit"} <= names
    ]
    # when its answer's schema is read
    lacking = []
    for path in pages:
        schema = DOCUMENT["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        if not {"next_cursor", "prev_cursor"} <= set(_resolve(schema).get("properties", {})):
            lacking.append(path)
    # then it names both cursors
    assert lacking == []


def test_the_allow_list_names_only_lists_that_exist():
    # given the allow-list / then every entry is still a list operation (a stale entry misleads)
    assert sorted(set(BOUNDED) - set(_lists())) == []
