"""The API's error contract: the statuses each operation declares, the one Error body, JSON 404/405/500 under
/api/ (HTML pages elsewhere), and inputs read as the schema states them (docs/api.md#errors)."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from tandem.api import api
from tandem.core.apicontract import ERROR_SCHEMA, openapi_errors_declare
from tandem.core.errors import NotFound, ValidationFailed
from tandem.crm.models import Person
from tandem.users.models import Role
from tandem.users.services import api_token_create
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_client() -> Client:
    token = api_token_create(user=UserFactory(role=Role.ADMIN), name="contract")[1]  # type: ignore[arg-type]
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}", raise_request_exception=False)


_JSON_TYPES = {"string": str, "integer": int, "array": list}


def _error(body: object) -> None:
    """The body is an Error: an object with `detail`, and only the schema's keys, each of its type."""
    assert isinstance(body, dict) and isinstance(body.get("detail"), str), body
    properties = ERROR_SCHEMA["properties"]
    assert set(body) <= set(properties), set(body) - set(properties)
    for key, value in body.items():
        assert isinstance(value, _JSON_TYPES[properties[key]["type"]]), (key, value)
    for item in body.get("errors", []):
        assert set(item) == {"field", "message"} and all(isinstance(v, str) for v in item.values()), item


def test_the_rule_declares_each_status_from_what_the_operation_is() -> None:
    # given a small document: a public read without inputs, a signed-in read by path id, a signed-in write
    # with a body naming an id, and a public write that declares its own 429
    ref = {"$ref": "#/components/schemas/ThingIn"}
    document = {
        "paths": {
            "/api/ping": {"get": {"responses": {200: {"description": "OK"}}}},
            "/api/things/{thing_id}": {
                "get": {
                    "security": [{"TokenAuth": []}],
                    "parameters": [{"in": "path", "name": "thing_id", "required": True}],
                    "responses": {200: {"description": "OK"}},
                },
            },
            "/api/things": {
                "post": {
                    "security": [{"TokenAuth": []}],
                    "requestBody": {"content": {"application/json": {"schema": ref}}},
                    "responses": {201: {"description": "Created"}},
                },
            },
            "/api/forms/submit": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {202: {"description": "Queued"}, 429: {"description": "Slow down"}},
                },
            },
        },
        "components": {
            "schemas": {"ThingIn": {"type": "object", "properties": {"owner_id": {"type": "integer"}}}}
        },
    }
    # when the rule is applied
    declared = openapi_errors_declare(document)
    # then each operation lists exactly the statuses it can answer, each error with the Error body
    statuses = {
        f"{method.upper()} {path}": sorted(op["responses"])
        for path, ops in declared["paths"].items()
        for method, op in ops.items()
    }
    assert statuses == {
        "GET /api/ping": ["200"],
        "GET /api/things/{thing_id}": ["200", "401", "403", "404", "422"],
        "POST /api/things": ["201", "400", "401", "403", "404", "409", "422"],
        "POST /api/forms/submit": ["202", "400", "409", "422", "429"],
    }
    submit = declared["paths"]["/api/forms/submit"]["post"]["responses"]
    assert submit["429"]["description"] == "Slow down"
    assert submit["429"]["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
    }
    assert declared["components"]["schemas"]["Error"] == ERROR_SCHEMA
    # and the input document is left as it was
    assert sorted(document["paths"]["/api/ping"]["get"]["responses"]) == [200]


def test_every_operation_of_the_api_declares_its_errors_with_the_error_body() -> None:
    # given the whole API's document
    document = api.get_openapi_schema(path_prefix="/api")
    # when every operation's error answers are read
    bodies = {
        json.dumps(answer.get("content"), sort_keys=True)
        for ops in document["paths"].values()
        for op in ops.values()
        for code, answer in op["responses"].items()
        if int(code) >= 400
    }
    # then every signed-in operation declares 401 and 403, and every error body is the one Error schema
    assert all(
        {"401", "403"} <= set(op["responses"])
        for ops in document["paths"].values()
        for op in ops.values()
        if op.get("security")
    )
    assert bodies == {json.dumps({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}})}


def test_domain_and_validation_errors_match_the_error_schema(token_client: Client) -> None:
    # given a domain error with field and value, and a request the schema refuses
    _error(ValidationFailed("email 'x' is not a valid address", field="email", value="x").as_dict())
    _error(NotFound("there is no person 9", field="person_id", value=9).as_dict())
    # when the API refuses a body with two invalid fields
    answer = token_client.post(
        "/api/people", data=json.dumps({"consent_calls": 0, "owner_id": "7"}), content_type="application/json"
    )
    # then it is a 422 whose body is an Error listing both
    assert answer.status_code == 422
    _error(answer.json())
    assert sorted(e["field"] for e in answer.json()["errors"]) == ["consent_calls", "owner_id"]
    assert Person.objects.count() == 0


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        # a JSON body is read strictly: 0 is not false, "7" is not 7
        ("post", "/api/people", {"email": "a@example.com", "consent_email": 0}, "consent_email"),
        # a number is not a date (pydantic would read it as a Unix time)
        ("get", "/api/sla/scorecard?date_to=0", None, "date_to"),
        ("get", "/api/themes/report?since=20260101", None, "since"),
        # an object field refuses an array, a number, a string or null (a Schema would read them as all defaults)
        ("post", "/api/themes/1/split", [], ""),
        ("post", "/api/themes/1/split", 5, ""),
        ("post", "/api/themes/1/split", None, ""),
    ],
)
def test_inputs_the_schema_refuses_are_refused(token_client: Client, method, path, body, field) -> None:  # type: ignore[no-untyped-def]
    # given an admin's token
    # when the request carries what the schema does not allow
    kwargs = {"data": json.dumps(body), "content_type": "application/json"} if method == "post" else {}
    answer = getattr(token_client, method)(path, **kwargs)
    # then it is a 422 naming the field, and nothing was written
    assert answer.status_code == 422, answer.content
    _error(answer.json())
    assert answer.json()["errors"][0]["field"] == field
    assert Person.objects.count() == 0


def test_a_valid_split_body_still_reaches_the_handler(token_client: Client) -> None:
    # given no theme 1
    # when a well-formed split is asked for
    answer = token_client.post(
        "/api/themes/1/split", data=json.dumps({"k": 3}), content_type="application/json"
    )
    # then the handler answers (the body passed validation)
    assert answer.status_code == 404 and answer.json()["field"] == "theme_id"


def test_unknown_api_paths_and_methods_answer_json_and_pages_keep_html(token_client: Client) -> None:
    # when an unknown API path, a path id that is not a number, an unoffered method and an unknown page are asked
    unknown = token_client.get("/api/no/such/thing")
    not_a_number = token_client.get("/api/people/abc")
    root = token_client.get("/api/")
    method = token_client.delete("/api/people")
    page = token_client.get("/no/such/page/")
    # then the API answers its JSON Error with the right status, the page the HTML 404
    for answer, status in ((unknown, 404), (not_a_number, 404), (root, 404), (method, 405)):
        assert answer.status_code == status
        assert answer["Content-Type"].startswith("application/json")
        _error(answer.json())
    assert unknown.json() == {
        "detail": "no API operation at /api/no/such/thing; see /api/docs",
        "field": "path",
        "value": "/api/no/such/thing",
    }
    assert method.json()["field"] == "method" and set(method["Allow"].split(", ")) == {"GET", "POST"}
    assert page.status_code == 404 and page["Content-Type"].startswith("text/html")


def test_a_server_error_under_api_answers_json_without_details_and_is_logged(
    token_client, monkeypatch, caplog
):  # type: ignore[no-untyped-def]
    # given an endpoint that fails inside
    class Broken:
        @property
        def choices(self) -> list[tuple[str, str]]:
            raise RuntimeError("secret connection string postgres://u:p@db")

    monkeypatch.setattr("tandem.feedback.api.RatingReason", Broken())
    # when it is called
    with caplog.at_level(logging.ERROR, logger="django.request"):
        answer = token_client.get("/api/feedback/rating-reasons")
    # then the answer is the JSON Error saying only that it was logged, and the log has the error
    assert answer.status_code == 500 and answer["Content-Type"].startswith("application/json")
    _error(answer.json())
    assert "secret" not in answer.content.decode() and "logged" in answer.json()["detail"]
    assert any("secret connection string" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
