"""The API's version policy as the answers show it (docs/api.md#versions): `API-Version` on every answer under /api/,
the OpenAPI `info.version`, and filters named as on the pages with the old names deprecated (Deprecation header)."""

from __future__ import annotations

import pytest

from tandem.api import api
from tandem.users.models import Role
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

DEPRECATION = "@1796601600"  # 2026-12-07, when the filters took the pages' names
LINK = '</api/docs>; rel="deprecation"'


def _without_now(body: dict) -> dict:
    # The SLA scorecard says when it was computed; that differs between two answers.
    if isinstance(body.get("period"), dict):
        body["period"].pop("now", None)
    return body


@pytest.fixture
def admin_client(client):  # type: ignore[no-untyped-def]
    client.force_login(UserFactory(role=Role.ADMIN))
    return client


def test_every_answer_under_api_says_its_version(admin_client, client):
    # given / when an operation, an unknown API path, the schema, and an anonymous refusal are asked for
    answers = [
        admin_client.get("/api/people"),
        admin_client.get("/api/no-such-thing"),
        admin_client.get("/api/openapi.json"),
    ]
    client.logout()
    answers.append(client.get("/api/people"))
    # then each says version 1, and so does the document
    assert [(a.status_code, a.headers["API-Version"]) for a in answers] == [
        (200, "1"),
        (404, "1"),
        (200, "1"),
        (401, "1"),
    ]
    assert api.get_openapi_schema(path_prefix="/api")["info"]["version"] == "1"


def test_a_page_outside_the_api_has_no_version_header(admin_client):
    # given / when a page is asked for / then it carries no API header
    assert "API-Version" not in admin_client.get("/people/").headers


@pytest.mark.parametrize(
    "path",
    ["/api/reports/funnel", "/api/reports/ltv", "/api/sla/scorecard"],
)
def test_date_ranges_take_the_pages_from_and_to_and_the_old_names_are_deprecated(admin_client, path):
    # given / when the same range is asked with the page's names and with the old ones
    new = admin_client.get(path, {"from": "2026-01-01", "to": "2026-03-31"})
    old = admin_client.get(path, {"date_from": "2026-01-01", "date_to": "2026-03-31"})
    both = admin_client.get(path, {"from": "2026-01-01", "date_from": "2026-01-01"})
    # then both answer the same; only the old names are told they are deprecated
    assert (new.status_code, old.status_code) == (200, 200)
    assert _without_now(new.json()) == _without_now(old.json())
    assert "Deprecation" not in new.headers and "Link" not in new.headers
    assert (old.headers["Deprecation"], old.headers["Link"]) == (DEPRECATION, LINK)
    # and both names of one filter at once are refused naming the old one
    assert both.status_code == 422
    assert both.json() == {
        "detail": "give from or date_from (its old name), not both",
        "field": "date_from",
        "value": "2026-01-01",
    }


def test_the_date_range_parameters_are_documented_with_the_old_names_deprecated():
    # given the OpenAPI document
    document = api.get_openapi_schema(path_prefix="/api")
    # when the funnel's parameters are read
    parameters = {
        p["name"]: p.get("deprecated", False)
        for p in document["paths"]["/api/reports/funnel"]["get"]["parameters"]
    }
    # then the page's names are current and the old ones deprecated
    assert parameters == {
        "by": False,
        "period": False,
        "from": False,
        "to": False,
        "date_from": True,
        "date_to": True,
    }


def test_the_gaps_take_the_pages_min_and_min_questions_is_deprecated(admin_client):
    # given / when the content gaps are asked with the page's `min` and the old `min_questions`
    new = admin_client.get("/api/enablement/gaps", {"min": 2})
    old = admin_client.get("/api/enablement/gaps", {"min_questions": 2})
    zero = admin_client.get("/api/enablement/gaps", {"min": 0})
    # then both answer alike, the old name with the Deprecation header, and a bad `min` is refused naming it
    assert (new.status_code, old.status_code) == (200, 200)
    assert new.json() == old.json() == []
    assert "Deprecation" not in new.headers
    assert old.headers["Deprecation"] == DEPRECATION
    assert zero.status_code == 422
    assert zero.json() == {"detail": "min is at least 1.", "field": "min", "value": "0"}
