"""Definition versions: the seeded v1, publishing (validation, numbering, event), the page and the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.lifecycle.editors import definition_form_from_spec
from tandem.lifecycle.models import DefinitionVersion
from tandem.lifecycle.selectors import definition_current, definitions_history
from tandem.lifecycle.services import definition_publish
from tandem.users.models import Role
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

SPEC_V2: dict[str, Any] = {
    "name": "mql",
    "note": "Tighter engagement",
    "all": [{"id": "grade", "type": "fit_grade", "op": ">=", "grade": "B"}],
    "any": [
        {"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 30},
        {"id": "engaged", "type": "touchpoint_count", "min_count": 5, "days": 30},
    ],
}


def _client(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


def test_the_migration_seeds_version_one_of_both_definitions() -> None:
    # given the migrated database
    # when the current definitions are read
    mql, sql = definition_current(stage="mql"), definition_current(stage="sql")
    # then v1 MQL is a demo request or 3 touchpoints in 30 days, and v1 SQL a call in 90 days
    assert mql is not None and sql is not None
    assert (mql.version, sql.version) == (1, 1)
    assert [c.id for c in mql.any_of] == ["demo", "engaged"]
    assert definitions_history()["mql"][0].sentences == [
        "At least one of: Has a 'demo_request' touchpoint in the last 30 days; or At least 3 touchpoints in the last 30 days"
    ]
    assert definitions_history()["sql"][0].sentences == ["Has a 'call' touchpoint in the last 90 days"]


def test_publishing_numbers_the_next_version_and_records_who_why_and_the_changes() -> None:
    # given an admin and the seeded v1
    admin = UserFactory(role=Role.ADMIN)
    # when a new MQL definition is published (its own "version" key is ignored)
    row = definition_publish(stage="mql", spec={**SPEC_V2, "version": 9}, reason="Sales asked for fit", by_user=admin)
    # then it is v2, current, with who and why, and an event lists what changed from v1
    assert (row.stage, row.version, row.created_by, row.reason) == ("mql", 2, admin, "Sales asked for fit")
    assert definition_current(stage="mql").version == 2  # type: ignore[union-attr]
    event = Event.objects.get(kind="definition.published")
    assert (event.actor, event.rule, event.rule_version) == (admin, "definition:mql", 2)
    assert event.data["changes"] == [
        "Added: Fit grade is B or better",
        "Changed: At least 5 touchpoints in the last 30 days (was: At least 3 touchpoints in the last 30 days)",
    ]
    history = definitions_history(stage="mql")["mql"]
    assert [v.version for v in history] == [2, 1]
    assert history[0].changes == event.data["changes"]
    assert history[1].changes == []


@pytest.mark.parametrize(
    ("stage", "spec", "reason", "field"),
    [
        ("lead", SPEC_V2, "why", "stage"),
        ("mql", SPEC_V2, "  ", "reason"),
        ("sql", SPEC_V2, "why", "name"),
        ("mql", {"any": [{"id": "x", "type": "touchpoint", "kinds": ["webinar"], "days": 0}]}, "why", "days"),
        ("mql", {"any": [{"id": "x", "type": "colour"}]}, "why", "type"),
        ("mql", {"all": [], "any": []}, "why", "all"),
    ],
)
def test_publishing_refuses_bad_input_naming_the_field(stage: str, spec: dict[str, Any], reason: str, field: str) -> None:
    # given the seeded definitions
    # when a bad definition is published
    with pytest.raises(ValidationFailed) as caught:
        definition_publish(stage=stage, spec=spec, reason=reason, by_user=None)
    # then the error names the field and nothing is stored
    assert caught.value.field == field
    assert DefinitionVersion.objects.count() == 2


def test_every_role_reads_the_definitions_page_in_plain_words(django_assert_num_queries: Any) -> None:
    # given a viewer and a published v2
    definition_publish(stage="mql", spec=SPEC_V2, reason="Sales asked for fit", by_user=UserFactory(role=Role.ADMIN))
    client = _client(Role.VIEWER)
    # when the viewer opens the page
    with django_assert_num_queries(6):  # session, user, two permission reads, versions with their authors, open proposals
        response = client.get("/definitions/")
    # then the current definition, the history with why and what changed show, and neither publish nor propose
    body = response.content.decode()
    assert response.status_code == 200
    assert "Fit grade is B or better" in body
    assert "Sales asked for fit" in body
    assert "Changed: At least 5 touchpoints in the last 30 days (was: At least 3 touchpoints in the last 30 days)" in body
    assert 'value="publish"' not in body and 'value="propose"' not in body
    fields = definition_form_from_spec(stage="mql", spec=SPEC_V2).to_post()
    assert client.post("/definitions/", {**fields, "action": "publish", "reason": "x"}).status_code == 403
    assert client.post("/definitions/", {**fields, "action": "propose", "reason": "x"}).status_code == 403


def test_an_admin_publishes_from_the_page_and_sees_errors_at_the_field() -> None:
    # given an admin on the page, editing the SQL definition (publishing it promotes nobody)
    client = _client(Role.ADMIN)
    assert 'value="publish"' in client.get("/definitions/?stage=sql").content.decode()
    spec = {"all": [{"id": "call", "type": "touchpoint", "kinds": ["call"], "days": 60}]}
    fields = definition_form_from_spec(stage="sql", spec=spec).to_post()
    # when a window is not a number, then when it is right
    bad_days = client.post("/definitions/", {**fields, "c0-days": "sixty", "reason": "x", "action": "publish"})
    good = client.post("/definitions/", {**fields, "reason": "Calls in two months", "action": "publish"})
    # then the first comes back at the clause's input with the field and value named; the second publishes v2
    body = bad_days.content.decode()
    assert bad_days.status_code == 422
    assert '<span class="field-msg" id="c0-days-error">days: &#x27;days&#x27; must be a whole number. (value: sixty)</span>' in body
    assert 'value="sixty"' in body  # kept as typed
    assert good.status_code == 302 and good["Location"] == "/definitions/?stage=sql#sql-v2"
    assert definition_current(stage="sql").version == 2  # type: ignore[union-attr]


def test_the_api_lists_definitions_and_only_admins_publish() -> None:
    # given a rep and an admin
    rep, admin = _client(Role.SALES_REP), _client(Role.ADMIN)
    payload = {"stage": "mql", "spec": SPEC_V2, "reason": "Fit matters"}
    # when both publish and the rep lists
    refused = rep.post("/api/definitions", payload, content_type="application/json")
    created = admin.post("/api/definitions", payload, content_type="application/json")
    invalid = admin.post(
        "/api/definitions", {**payload, "spec": {"any": [{"type": "number", "field": "x", "op": "~"}]}}, content_type="application/json"
    )
    listed = rep.get("/api/definitions").json()
    # then the rep is refused, the admin gets v2, bad input is a 422 naming the field, and the list shows v2 current
    assert refused.status_code == 403
    assert created.status_code == 201 and created.json()["version"] == 2
    assert invalid.status_code == 422 and invalid.json()["field"] == "op"
    assert listed["current"]["mql"]["version"] == 2
    assert [v["version"] for v in listed["history"]["mql"]] == [2, 1]
    assert listed["current"]["sql"]["sentences"] == ["Has a 'call' touchpoint in the last 90 days"]
