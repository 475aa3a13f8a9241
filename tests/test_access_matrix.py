"""The role × record matrix: every API operation and every page that names a record, tried by each role against a
record of its own, of its team and of another team. Forbidden actions are refused (404 out of sight, 403 when the
record is visible but not theirs to change, or the role lacks the permission) and change nothing.

The operations and pages are read from the OpenAPI document and the URL configuration, not listed by hand: a new
endpoint or page that takes a record id must be classified below (as a record of a kind, or company-wide), or the
classification test fails.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tandem.api import api
from tandem.users.models import RepAccess
from tests.users.access_world import WHEN, Owned, World, world  # noqa: F401

SCHEMA = api.get_openapi_schema(path_prefix="/api")


@pytest.fixture(autouse=True)
def _scored(request: Any) -> None:
    # Each rep's person has a score, so a 404 from the score endpoint can only mean "out of sight".
    if "world" in request.fixturenames:
        from tandem.scoring.models import PersonScore

        built = request.getfixturevalue("world")
        for owned in (built.a1, built.a2, built.b1):
            PersonScore.objects.create(
                person=owned.person, probability=0.3, tier="B", fit_grade="B", factors={}, scored_at=WHEN
            )

# ---- the API: which path parameter names which kind of record ----

# A path parameter → the record of the target rep it is filled with.
API_RECORD_PARAMS: dict[tuple[str, str], str] = {
    ("people", "person_id"): "person",
    ("people", "survivor_id"): "person",
    ("deals", "deal_id"): "deal",
    ("deals", "person_id"): "person",
    ("accounts", "account_id"): "account",
    ("activities", "activity_id"): "activity",
    ("tasks", "task_id"): "task",
    ("inbox", "person_id"): "person",
}
# Path roots whose ids name company-wide things: roles alone govern them (tandem.users.access, "company-wide").
API_COMPANY_WIDE = {
    "pipelines", "activity-kinds", "imports", "capture", "teams", "proposals", "experiments", "themes",
    "lost-reasons", "enablement", "collateral", "campaigns", "users", "jobs", "audit", "sign-in",
    "webhooks",
    # Audiences are marketing's, company-wide; their member lists and exports go through access_seen.
    "audiences",
}
# Operations a rep's role may not use whatever the record (its 403 comes first), or that need more than sight: a
# person's data export is for who may change them, an erase for admins, a merge for admins, marketing and managers.
ADMIN_ONLY = {
    ("GET", "/api/people/{person_id}/export"),
    ("POST", "/api/people/{person_id}/erase"),
    ("POST", "/api/people/{survivor_id}/merge"),
}


def _operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, ops in SCHEMA["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op


def _root(path: str) -> str:
    return path.removeprefix("/api/").split("/")[0]


def _params(path: str) -> list[str]:
    return re.findall(r"{(\w+)}", path)


def _record_operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (m, p, op) for m, p, op in _operations() if _params(p) and all((_root(p), n) in API_RECORD_PARAMS for n in _params(p))
    ]


def _resolve(ref_or_schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in ref_or_schema:
        name = ref_or_schema["$ref"].rsplit("/", 1)[1]
        ref_or_schema = SCHEMA["components"]["schemas"][name]
    if "anyOf" in ref_or_schema:
        options = [o for o in ref_or_schema["anyOf"] if o.get("type") != "null"]
        return _resolve(options[0]) if options else {"type": "null"}
    if "allOf" in ref_or_schema and len(ref_or_schema["allOf"]) == 1:
        return _resolve(ref_or_schema["allOf"][0])
    return ref_or_schema


def _value(name: str, schema: dict[str, Any], owned: Owned) -> Any:
    schema = _resolve(schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        # An id in the body names the target rep's record of that kind, so only the record rule can refuse it.
        record = {"person_id": owned.person, "deal_id": owned.deal, "account_id": owned.account,
                  "duplicate_id": owned.person}.get(name)
        return record.pk if record is not None else max(schema.get("minimum", 1), 1)
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return _body(schema, owned)
    if schema.get("format") == "date-time":
        return "2026-03-05T10:00:00Z"
    if schema.get("format") == "date":
        return "2026-03-05"
    return "x"


def _body(schema: dict[str, Any], owned: Owned) -> dict[str, Any]:
    schema = _resolve(schema)
    props = schema.get("properties", {})
    return {name: _value(name, props[name], owned) for name in schema.get("required", [])}


def _request_body(op: dict[str, Any], owned: Owned) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" not in content:
        return None
    return _body(content["application/json"]["schema"], owned)


def _url(path: str, owned: Owned) -> str:
    def fill(match: re.Match[str]) -> str:
        kind = API_RECORD_PARAMS[(_root(path), match.group(1))]
        return str(getattr(owned, kind).pk)

    return re.sub(r"{(\w+)}", fill, path)


def _call(client: Any, method: str, path: str, op: dict[str, Any], owned: Owned) -> Any:
    body = _request_body(op, owned)
    kwargs: dict[str, Any] = {"content_type": "application/json"}
    if body is not None:
        kwargs["data"] = body
    return getattr(client, method.lower())(_url(path, owned), **kwargs)


def _state() -> dict[str, Any]:
    """Every row of the tables a refused action could have changed."""
    from django.apps import apps

    labels = [
        "crm.Person", "crm.Account", "crm.Deal", "crm.Activity", "crm.Task", "crm.StageChange",
        "crm.DealStageChange", "crm.DealContact", "feedback.Question", "feedback.LeadRating", "core.Event",
    ]
    if apps.is_installed("tandem.crm") and "consentrecord" in {m._meta.model_name for m in apps.get_models()}:
        labels.append("crm.ConsentRecord")
    return {label: list(apps.get_model(label).objects.order_by("pk").values()) for label in labels}


def test_every_api_operation_with_an_id_is_classified() -> None:
    # given every operation whose path names something by id
    unclassified = [
        (m, p) for m, p, _ in _operations()
        if _params(p) and _root(p) not in API_COMPANY_WIDE
        and not all((_root(p), n) in API_RECORD_PARAMS for n in _params(p))
    ]
    # then each names a kind of record, or is company-wide
    assert unclassified == []


def _refusals(client: Any, user: Any, owned: Owned) -> list[tuple[str, str, int]]:
    client.force_login(user)
    out = []
    for method, path, op in _record_operations():
        before = _state()
        response = _call(client, method, path, op, owned)
        out.append((method, path, response.status_code))
        assert _state() == before, f"{method} {path} as {user.username} changed data ({response.status_code})"
    return out


def test_another_teams_rep_can_neither_see_nor_change_a_reps_records_through_the_api(client, world: World) -> None:  # noqa: F811
    # given rep A1's records, and rep B1 of another team
    # when B1 tries every operation on them
    answers = _refusals(client, world.rep_b1, world.a1)
    # then each is refused: not found (out of sight), or 403 where the role alone already refuses, and nothing changed
    wrong = [(m, p, s) for m, p, s in answers if s not in (404, 403) or (s == 403 and (m, p) not in ADMIN_ONLY)]
    print(f"\n{len(answers)} record operations tried as another team's rep")
    assert wrong == [], wrong


def test_a_teammate_sees_nothing_of_a_reps_records_when_the_team_keeps_records_own(client, world: World) -> None:  # noqa: F811
    # given team A's default: own records only
    # when rep A2 tries every operation on A1's records
    answers = _refusals(client, world.rep_a2, world.a1)
    # then each is refused as not found (or by the role, for admin-only operations), and nothing changed
    wrong = [(m, p, s) for m, p, s in answers if s != 404 and not (s == 403 and (m, p) in ADMIN_ONLY)]
    assert wrong == [], wrong


def test_a_teammate_sees_but_cannot_change_when_the_team_shares_to_view(client, world: World) -> None:  # noqa: F811
    # given team A shares its records to view
    world.set_rep_access(world.team_a, RepAccess.TEAM_VIEW)
    client.force_login(world.rep_a2)
    wrong = []
    for method, path, op in _record_operations():
        before = _state()
        # when rep A2 tries each operation on A1's records
        status = _call(client, method, path, op, world.a1).status_code
        # then reads are answered and every write is refused with 403, changing nothing
        if (method, path) in ADMIN_ONLY:
            ok = status == 403
        elif method == "GET":
            ok = status == 200
        else:
            ok = status == 403
        if not ok:
            wrong.append((method, path, status))
        assert _state() == before, f"{method} {path} changed data ({status})"
    assert wrong == [], wrong


def test_a_viewer_reads_every_record_and_changes_none(client, world: World) -> None:  # noqa: F811
    # given a viewer
    client.force_login(world.viewer)
    wrong = []
    for method, path, op in _record_operations():
        before = _state()
        # when they try each operation on rep A1's records
        status = _call(client, method, path, op, world.a1).status_code
        # then reads are answered (admin-only ones refused) and every write is refused with 403
        expected = 403 if method != "GET" or (method, path) in ADMIN_ONLY else 200
        if status != expected:
            wrong.append((method, path, status))
        assert _state() == before, f"{method} {path} changed data ({status})"
    assert wrong == [], wrong


def test_the_owner_and_their_manager_read_every_record_and_another_manager_does_not(client, world: World) -> None:  # noqa: F811
    # given rep A1's records
    reads = [(m, p, op) for m, p, op in _record_operations() if m == "GET" and (m, p) not in ADMIN_ONLY]
    answers: dict[str, list[int]] = {}
    for user in (world.rep_a1, world.manager_a, world.manager_b):
        client.force_login(user)
        # when each reads them
        answers[user.username] = [_call(client, m, p, op, world.a1).status_code for m, p, op in reads]
    # then the owner and their team's manager get them; the other team's manager is told they do not exist
    assert answers["rep_a1"] == [200] * len(reads)
    assert answers["manager_a"] == [200] * len(reads)
    assert answers["manager_b"] == [404] * len(reads)


def test_lists_and_search_show_a_rep_only_their_own(client, world: World) -> None:  # noqa: F811
    # given the default setting
    client.force_login(world.rep_b1)
    # when rep B1 lists each kind of record and searches for team A's names
    lists = {
        "people": client.get("/api/people").json()["items"],
        "accounts": client.get("/api/accounts").json()["items"],
        "deals": client.get("/api/deals").json()["items"],
        "activities": client.get("/api/activities").json()["items"],
        "tasks": client.get("/api/tasks", {"owner": "all"}).json().get("items", []),
    }
    found = client.get("/api/search", {"q": "Aardvark"}).json()
    # then only B1's own records are listed and the search finds nothing of team A
    mine = world.b1
    assert [p["id"] for p in lists["people"]] == [mine.person.pk]
    assert [a["id"] for a in lists["accounts"]] == [mine.account.pk]
    assert [d["id"] for d in lists["deals"]] == [mine.deal.pk]
    assert [a["id"] for a in lists["activities"]] == [mine.activity.pk]
    assert {t["id"] for t in lists["tasks"]} <= {mine.task.pk}
    assert "Aardvark" not in str(found)


# ---- the pages ----

# (namespace, url name) → the record kind each id parameter is filled with.
PAGE_RECORDS: dict[tuple[str | None, str], dict[str, str]] = {
    ("crm", "person"): {"pk": "person"},
    ("crm", "person-edit"): {"pk": "person"},
    ("crm", "person-stage"): {"pk": "person"},
    ("crm", "person-consent"): {"pk": "person"},
    ("crm", "deal-new"): {"pk": "person"},
    ("crm", "deal"): {"deal_id": "deal"},
    ("crm", "deal-close"): {"deal_id": "deal"},
    ("crm", "merge"): {"pk": "person", "other": "person"},
    ("activities", "quicklog"): {"pk": "person"},
    ("activities", "delete"): {"activity_id": "activity"},
    ("accounts", "detail"): {"pk": "account"},
    ("accounts", "edit"): {"pk": "account"},
    ("agenda", "person-panel"): {"pk": "person"},
    ("agenda", "edit"): {"pk": "task"},
    ("agenda", "done"): {"pk": "task"},
    ("agenda", "reopen"): {"pk": "task"},
    ("agenda", "delete"): {"pk": "task"},
    ("pipelines", "deal-edit"): {"deal_id": "deal"},
    ("pipelines", "contact-add"): {"deal_id": "deal"},
    ("pipelines", "contact-remove"): {"deal_id": "deal", "person_id": "person"},
    ("campaigns", "person-campaigns"): {"person_id": "person"},
    ("enablement", "person-panel"): {"person_id": "person"},
    ("enablement", "use-record"): {"person_id": "person"},
    ("feedback", "person-panel"): {"pk": "person"},
    ("feedback", "question-new"): {"pk": "person"},
    ("feedback", "rating-new"): {"pk": "person"},
    ("lifecycle", "inbox_accept"): {"person_id": "person"},
    ("lifecycle", "inbox_reject"): {"person_id": "person"},
    ("privacy", "person-export"): {"pk": "person"},
    ("privacy", "person-erase"): {"pk": "person"},
}
# Pages whose ids name company-wide things (roles alone govern them), by namespace or (namespace, name).
PAGE_COMPANY_WIDE_NAMESPACES = {
    "campaigns", "jobs", "collateral", "capture", "intake", "stats", "scoring", "enablement", "feedback",
    "lifecycle", "pipelines", "activities", "audit", "users", "signin",
    "webhooks",
    "audiences",
}
PAGE_COMPANY_WIDE = {
    ("crm", "lost-reason-edit"), (None, "password_reset_confirm"),
    # A secret token in the address names the user or the send, not a record id: the calendar feed, the
    # one-click unsubscribe and an e-mailed asset's tracked link (tests/integrations).
    ("integrations", "calendar-feed"), ("integrations", "unsubscribe"), ("integrations", "link"),
}
# Pages a role may not use at all whatever the record (the role's 403 comes first).
ROLE_ONLY_PAGES = {("crm", "merge")}
# Pages that only show a record: a POST to them is not an action.
READ_ONLY_PAGES = {
    ("crm", "person"), ("crm", "deal"), ("accounts", "detail"), ("agenda", "person-panel"),
    ("campaigns", "person-campaigns"), ("enablement", "person-panel"), ("feedback", "person-panel"),
}
ADMIN_ONLY_PAGES = {("privacy", "person-export"), ("privacy", "person-erase")}


def _patterns(patterns: list[Any], prefix: str = "", namespace: str | None = None) -> Iterator[tuple[str | None, str, str]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p.url_patterns, prefix + str(p.pattern), p.namespace or namespace)
        elif isinstance(p, URLPattern):
            yield namespace, p.name or "", prefix + str(p.pattern)


def _record_pages() -> list[tuple[str | None, str, str]]:
    return [
        (ns, name, route) for ns, name, route in _patterns(get_resolver().url_patterns)
        if "<" in route and not route.startswith(("api/", "admin/")) and (ns, name) in PAGE_RECORDS
    ]


def _page_url(ns: str | None, name: str, route: str, owned: Owned, other: Owned) -> str:
    kinds = PAGE_RECORDS[(ns, name)]
    seen: list[str] = []

    def fill(match: re.Match[str]) -> str:
        param = match.group(1)
        seen.append(param)
        # A merge names two people: the target rep's and their teammate's.
        record = getattr(other if param == "other" else owned, kinds[param])
        return str(record.pk)

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", fill, route)


def test_every_page_with_an_id_is_classified() -> None:
    # given every page whose address names something by id
    unclassified = [
        (ns, name, route) for ns, name, route in _patterns(get_resolver().url_patterns)
        if "<" in route and not route.startswith(("api/", "admin/", "static/", "media/"))
        and (ns, name) not in PAGE_RECORDS and (ns, name) not in PAGE_COMPANY_WIDE
        and ns not in PAGE_COMPANY_WIDE_NAMESPACES
    ]
    # then each names a kind of record, or is company-wide
    assert unclassified == []


def test_another_teams_rep_gets_not_found_on_every_page_and_form_of_a_reps_records(client, world: World) -> None:  # noqa: F811
    # given rep A1's records, and rep B1 of another team
    client.force_login(world.rep_b1)
    wrong = []
    pages = _record_pages()
    for ns, name, route in pages:
        url = _page_url(ns, name, route, world.a1, world.a2)
        before = _state()
        # when B1 opens and posts each page
        got, posted = client.get(url).status_code, client.post(url, {"reason": "x", "to_stage": "sql"}).status_code
        # then each is not found (405 where the page only takes a post or a get), or the role's 403, changing nothing
        allowed = {404, 405} | ({403} if (ns, name) in ADMIN_ONLY_PAGES | ROLE_ONLY_PAGES else set())
        if got not in allowed or posted not in allowed:
            wrong.append((ns, name, got, posted))
        assert _state() == before, f"{url} changed data"
    print(f"\n{len(pages)} record pages tried as another team's rep")
    assert wrong == [], wrong


def test_a_viewer_opens_every_record_page_and_no_form_changes_anything(client, world: World) -> None:  # noqa: F811
    # given a viewer
    client.force_login(world.viewer)
    wrong = []
    for ns, name, route in _record_pages():
        if (ns, name) not in READ_ONLY_PAGES:
            url = _page_url(ns, name, route, world.a1, world.a2)
            before = _state()
            # when they post each form
            posted = client.post(url, {"reason": "x", "to_stage": "sql"}).status_code
            # then each is refused by the role (405 where the page takes no post) and nothing changed
            if posted not in (403, 405):
                wrong.append((ns, name, posted))
            assert _state() == before, f"{url} changed data"
    for ns, name, route in _record_pages():
        if (ns, name) in READ_ONLY_PAGES:
            # and each record page opens
            status = client.get(_page_url(ns, name, route, world.a1, world.a2)).status_code
            if status != 200:
                wrong.append((ns, name, status))
    assert wrong == [], wrong


def test_a_teammate_sharing_to_view_opens_the_pages_but_every_form_is_refused(client, world: World) -> None:  # noqa: F811
    # given team A shares its records to view
    world.set_rep_access(world.team_a, RepAccess.TEAM_VIEW)
    client.force_login(world.rep_a2)
    wrong = []
    for ns, name, route in _record_pages():
        url = _page_url(ns, name, route, world.a1, world.a1)
        before = _state()
        if (ns, name) in READ_ONLY_PAGES:
            # when rep A2 opens A1's record pages, then they open
            status = client.get(url).status_code
            ok = status == 200
        else:
            # when rep A2 posts A1's forms, then each is refused (403; 405 where the page takes no post)
            status = client.post(url, {"reason": "x", "to_stage": "sql"}).status_code
            ok = status in (403, 405)
        if not ok:
            wrong.append((ns, name, status))
        assert _state() == before, f"{url} changed data ({status})"
    assert wrong == [], wrong


def test_the_matrix_covers_each_kind_of_record() -> None:
    # given the classified operations and pages
    api_kinds = {API_RECORD_PARAMS[(_root(p), n)] for _, p, _ in _record_operations() for n in _params(p)}
    page_kinds = {k for kinds in PAGE_RECORDS.values() for k in kinds.values()}
    # then people, accounts, deals, activities and tasks are covered by both
    assert {"person", "account", "deal", "activity", "task"} <= api_kinds
    assert {"person", "account", "deal", "activity", "task"} <= page_kinds
