"""The editors in words on the pages: what a page shows reads back into the same stored spec, mistakes are named at
their input, and HTMX adds, removes and moves rows. Every criterion type, rule kind and SLA field is covered."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tandem.lifecycle.models import DefinitionVersion, RoutingConfig, SlaPolicyVersion
from tandem.lifecycle.services import definition_publish, routing_publish, sla_policy_publish
from tandem.users.models import Role
from tests.lifecycle.html_forms import form_fields
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

# Every criterion type and operator, with labels, custom fields, quoted list items and a note on two lines.
DEFINITIONS: list[dict[str, Any]] = [
    {
        "note": "Agreed in March\nwith sales",
        "all": [
            {"id": "industry", "type": "field_in", "field": "industry", "values": ["Software", "Acme, Inc.", 'say "hi"']},
            {"id": "country", "type": "field_not_in", "field": "country", "values": ["RU"], "label": "Not in Russia"},
            {"id": "prob", "type": "number", "field": "predictive_probability", "op": "between", "low": 0.25, "high": 0.5},
            {"id": "budget", "type": "number", "field": "budget", "op": "<=", "value": 40000},
        ],
        "any": [
            {"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "channels": ["webinar", "email"], "campaign_ids": [3, 4], "days": 14},
            {"id": "busy", "type": "touchpoint_count", "min_count": 3, "days": 30},
        ],
    },
    {
        "all": [
            {"id": "better", "type": "fit_grade", "op": ">=", "grade": "B"},
            {"id": "title", "type": "title_keywords", "keywords": ["head", "vp"], "exclude": ["student", "intern"]},
            {"id": "mail", "type": "consent", "channel": "email"},
        ],
        "any": [
            {"id": "worse", "type": "fit_grade", "op": "<=", "grade": "C", "field": "account.grade"},
            {"id": "range", "type": "fit_grade", "op": "between", "low": "D", "high": "B"},
            {"id": "calls", "type": "consent", "channel": "calls"},
            {"id": "score", "type": "number", "field": "engagement_score", "op": ">=", "value": 60.5},
            {"id": "webinars", "type": "touchpoint_count", "min_count": 2, "kinds": ["webinar", "content_download"], "campaign_ids": [7], "days": 90},
        ],
    },
]


def _client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


def _stored(model: Any, **scope: Any) -> dict[str, Any]:
    spec = dict(model.objects.filter(**scope).order_by("-version").first().spec)
    spec.pop("version")
    return spec


@pytest.mark.parametrize("spec", DEFINITIONS, ids=["profile-and-behaviour", "grades-title-consent"])
def test_a_definition_shown_in_the_editor_is_published_back_unchanged(spec: dict[str, Any]) -> None:
    # given an SQL definition covering every criterion type, published through the service
    definition_publish(stage="sql", spec=spec, reason="from the API", by_user=None)
    before = _stored(DefinitionVersion, stage="sql")
    admin = _client(Role.ADMIN)
    # when an admin opens the editor and publishes what it shows, untouched
    page = admin.get("/definitions/?stage=sql").content.decode()
    fields = form_fields(page, "definition-form")
    response = admin.post("/definitions/", {**fields, "reason": "no change", "action": "publish"})
    # then the form sent back exactly the definition in force: publishing it is refused as no change (a publish
    # compares the new spec with the stored one), nothing is added, and no input showed JSON
    assert response.status_code == 409, __import__("re").findall(r"field-msg[^<]*|role=\"alert\"[^<]*", response.content.decode())
    assert "Nothing changed: version 2 in force already says exactly this." in response.content.decode()
    assert DefinitionVersion.objects.filter(stage="sql").count() == 2
    assert _stored(DefinitionVersion, stage="sql") == before
    assert "&quot;all&quot;" not in page.split("Show JSON")[0]


def test_routing_rules_shown_in_the_editor_are_published_back_unchanged(django_assert_num_queries: Any) -> None:
    # given every rule kind, one pointing at a team that is not in the roster
    squad = TeamFactory(name="Squad")
    rep = UserFactory(role=Role.SALES_REP, team=squad)
    spec = {
        "rules": [
            {"id": "named", "kind": "named_account", "label": "Named accounts"},
            {"id": "dach", "kind": "territory", "label": "DACH", "countries": ["DE", "AT", "CH"], "size_bands": ["1001-5000"], "team_id": squad.pk},
            {"id": "fin", "kind": "territory", "industries": ["Fintech", "Banking, retail"], "rep_id": rep.pk},
            {"id": "gone", "kind": "round_robin", "team_id": 9999},
            {"id": "queue", "kind": "fallback", "label": "Sales queue", "rep_id": rep.pk},
        ]
    }
    routing_publish(spec=spec, reason="from the API", by_user=None)
    before = _stored(RoutingConfig)
    admin = _client(Role.ADMIN)
    # when an admin publishes what the editor shows
    with django_assert_num_queries(9):  # session, user, 2 permission reads, rules, reps, teams, history, open proposals
        page = admin.get("/routing/").content.decode()
    response = admin.post("/routing/", {**form_fields(page, "routing-form"), "reason": "no change", "action": "publish"})
    # then the new version is the same rules; the unknown team was offered as it was
    assert response.status_code == 302
    assert _stored(RoutingConfig) == before and RoutingConfig.objects.count() == 2
    assert "team 9999 (not in the roster)" in page


@pytest.mark.parametrize(
    "spec",
    [
        {"first_touch_hours": 2.5, "min_attempts": 4, "attempt_days": 10, "mql_target_per_month": 120, "min_mql_to_sql_rate": 0.07, "reroute_after_hours": 3},
        {"first_touch_hours": 4, "min_attempts": 3, "attempt_days": 7},
    ],
    ids=["every-field", "defaults"],
)
def test_an_sla_policy_shown_in_the_editor_is_published_back_unchanged(spec: dict[str, Any]) -> None:
    # given a policy published through the service
    sla_policy_publish(spec=spec, reason="from the API", by_user=None)
    before = _stored(SlaPolicyVersion)
    admin = _client(Role.ADMIN)
    # when an admin publishes what the policy form shows
    page = admin.get("/sla/").content.decode()
    fields = {k: v for k, v in form_fields(page, "sla-policy-form").items()}
    response = admin.post("/sla/", {**fields, "reason": "no change", "action": "publish"})
    # then the new version is the same policy (7 % stays 0.07)
    assert response.status_code == 302
    assert _stored(SlaPolicyVersion) == before and SlaPolicyVersion.objects.count() == 2


def test_htmx_adds_removes_and_moves_clauses_keeping_what_was_typed(django_assert_num_queries: Any) -> None:
    # given marketing in the MQL editor (seeded v1: a demo request, or 3 touchpoints in 30 days)
    client = _client(Role.MARKETING)
    fields = form_fields(client.get("/definitions/").content.decode(), "definition-form")
    fields["c0-days"] = "14"
    htmx = {"HTTP_HX_REQUEST": "true"}
    # when a fit-grade clause is added to "all of these" (only the editor comes back), then the demo clause moves there
    with django_assert_num_queries(4):  # session, user, two permission reads
        added = client.post("/definitions/", {**fields, "add_type_all": "fit_grade", "action": "add:all"}, **htmx)
    added_fields = form_fields(added.content.decode(), "definition-form")
    moved = client.post("/definitions/", {**added_fields, "action": "move:1"}, **htmx)
    moved_fields = form_fields(moved.content.decode(), "definition-form")
    removed = client.post("/definitions/", {**moved_fields, "action": "remove:2"}, **htmx)
    # then each answer is the editor alone, with the typed 14 kept and each clause reading as a sentence
    body = added.content.decode()
    assert added.status_code == 200 and body.lstrip().startswith('<section class="card" id="definition-editor">')
    assert [(added_fields[f"c{i}-type"], added_fields[f"c{i}-group"]) for i in range(3)] == [
        ("fit_grade", "all"), ("touchpoint", "any"), ("touchpoint_count", "any"),
    ]
    assert "Reads: Fit grade is B or better" in body and added_fields["c1-days"] == "14"
    assert [(moved_fields[f"c{i}-id"], moved_fields[f"c{i}-group"]) for i in range(3)] == [
        ("fit-grade-1", "all"), ("demo", "all"), ("engaged", "any"),
    ]
    removed_fields = form_fields(removed.content.decode(), "definition-form")
    assert [removed_fields[f"c{i}-id"] for i in range(2)] == ["fit-grade-1", "demo"] and "c2-id" not in removed_fields
    assert "Reads: Has a &#x27;demo_request&#x27; touchpoint in the last 14 days" in removed.content.decode()


def test_changing_a_clause_type_or_operator_shows_its_own_inputs() -> None:
    # given the MQL editor's fields with the second clause switched to a number "between"
    client = _client(Role.MARKETING)
    fields = form_fields(client.get("/definitions/").content.decode(), "definition-form")
    fields.update({"c1-type": "number", "c1-op": "between"})
    # when HTMX refreshes the editor
    response = client.post("/definitions/", {**fields, "action": "refresh"}, HTTP_HX_REQUEST="true")
    shown = form_fields(response.content.decode(), "definition-form")
    # then the clause shows the number's inputs (field, bounds) and no longer the touchpoint ones
    assert {k for k in shown if k.startswith("c1-")} == {"c1-group", "c1-type", "c1-id", "c1-label", "c1-field", "c1-op", "c1-low", "c1-high"}
    assert shown["c1-field"] == "engagement_score"


def test_routing_rules_move_and_a_new_rule_lands_before_the_fallback() -> None:
    # given an admin editing rules with a fallback
    squad = TeamFactory(name="Squad")
    routing_publish(
        spec={"rules": [{"id": "rr", "kind": "round_robin", "team_id": squad.pk}, {"id": "queue", "kind": "fallback", "team_id": squad.pk}]},
        reason="x",
        by_user=None,
    )
    client = _client(Role.ADMIN)
    fields = form_fields(client.get("/routing/").content.decode(), "routing-form")
    # when a territory is added, then moved to the top
    added = form_fields(client.post("/routing/", {**fields, "add_kind": "territory", "action": "add"}, HTTP_HX_REQUEST="true").content.decode(), "routing-form")
    moved = form_fields(client.post("/routing/", {**added, "action": "up:1"}, HTTP_HX_REQUEST="true").content.decode(), "routing-form")
    # then the order reads territory, round-robin, fallback
    assert [added[f"r{i}-kind"] for i in range(3)] == ["round_robin", "territory", "fallback"]
    assert [moved[f"r{i}-id"] for i in range(3)] == ["territory-1", "rr", "queue"]


def test_a_mistake_is_named_next_to_its_input_and_nothing_is_published() -> None:
    # given an admin's SLA form with a rate of 250 % and routing without a target
    client = _client(Role.ADMIN)
    fields = form_fields(client.get("/sla/").content.decode(), "sla-policy-form")
    sla = client.post("/sla/", {**fields, "min_mql_to_sql_rate": "250", "reason": "x", "action": "publish"})
    routing = client.post("/routing/", {"r0-kind": "territory", "r0-id": "t", "r0-countries": "DE", "r0-target": "", "reason": "x", "action": "publish"})
    # then each page answers 422 with the message, field and value beside the input; nothing is stored
    assert sla.status_code == 422
    assert 'id="min_mql_to_sql_rate-error">min_mql_to_sql_rate: The minimum MQL→SQL rate is more than 0 and at most 100 %. (value: 250)' in sla.content.decode()
    assert routing.status_code == 422
    assert 'id="r0-target-error">target: A territory rule sends people to a team or to a rep (one of the two). (value: t)' in routing.content.decode()
    assert SlaPolicyVersion.objects.count() == 0 and RoutingConfig.objects.count() == 0
