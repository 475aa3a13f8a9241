"""The NUL guard: a NUL in the address is a clear 4xx on every page and endpoint, on both databases."""

from __future__ import annotations

import re

import pytest

from tandem.api import api
from tandem.capture.models import Submission
from tandem.users.models import Role
from tandem.users.services import api_token_create
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _get_operations_with_string_query() -> list[tuple[str, str]]:
    schema = api.get_openapi_schema(path_prefix="/api")
    found = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if not get:
            continue
        for parameter in get.get("parameters", []):
            if parameter["in"] == "query":
                found.append((path, parameter["name"]))
    return found


def test_an_api_filter_with_nul_is_a_422_naming_the_parameter(client):
    # given an admin's token and one journal row
    token = api_token_create(user=UserFactory(role=Role.ADMIN), name="t")[1]
    before = Submission.objects.count()
    # when the journal is filtered by a source holding a NUL (PostgreSQL cannot compare such text)
    response = client.get(
        "/api/capture/submissions?status=received&source=web%00form", headers={"Authorization": f"Bearer {token}"}
    )
    # then the answer is a 422 naming the parameter and its value without the NUL, and nothing was written
    assert response.status_code == 422
    assert response.json() == {
        "detail": "source must not contain NUL characters",
        "field": "source",
        "value": "webform",
    }
    assert Submission.objects.count() == before


@pytest.mark.parametrize(("path", "name"), _get_operations_with_string_query())
def test_no_get_operation_fails_on_a_nul_in_any_query_parameter(client, path, name):
    # given an admin's token and any path parameter filled with a plausible id
    token = api_token_create(user=UserFactory(role=Role.ADMIN), name="t")[1]
    url = re.sub(r"\{[^}]+\}", "1", path)
    # when the parameter carries a NUL
    response = client.get(f"{url}?{name}=a%00b", headers={"Authorization": f"Bearer {token}"})
    # then it is refused as a 422 naming that parameter
    assert response.status_code == 422, (path, name, response.content[:200])
    assert response.json()["field"] == name


def test_a_page_filter_with_nul_is_a_400(client):
    # given a signed-in rep
    client.force_login(UserFactory(role=Role.SALES_REP))
    # when the people list is searched with a NUL
    response = client.get("/people/?q=ab%00c")
    # then the page answers 400 naming the parameter, not a server error
    assert response.status_code == 400
    assert response.content.decode() == "q must not contain NUL characters"


def test_a_nul_in_the_path_is_refused(client):
    # given a form key with a NUL in it (the address is decoded before Django sees it)
    token = api_token_create(user=UserFactory(role=Role.ADMIN), name="t")[1]
    # when it is used
    response = client.get("/api/capture/forms/ab%00c", headers={"Authorization": f"Bearer {token}"})
    # then the answer is a 422 naming the path
    assert response.status_code == 422
    assert response.json()["field"] == "path"


def test_a_plain_request_passes_the_guard(client):
    # given a signed-in rep
    client.force_login(UserFactory(role=Role.SALES_REP))
    # when a search holds no NUL (a literal "%00" typed by the user arrives encoded as %2500)
    response = client.get("/people/?q=%2500")
    # then the page answers as usual
    assert response.status_code == 200
