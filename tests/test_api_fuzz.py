"""schemathesis fuzzes every API operation from the OpenAPI schema: whatever it sends, no answer is a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tandem.api import api
from tandem.users.models import Role
from tandem.users.services import api_token_create
from tandem.wsgi import application
from tests.users.factories import UserFactory

schema = schemathesis.openapi.from_dict(api.get_openapi_schema(path_prefix="/api"))
schema.app = application


@pytest.fixture
def admin_token(db) -> str:  # type: ignore[no-untyped-def]
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    # As Django's test client does: the test's transaction must outlive each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield api_token_create(user=UserFactory(role=Role.ADMIN), name="fuzz")[1]
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@hypothesis_settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(case, admin_token, settings):  # type: ignore[no-untyped-def]
    # given an admin's token (the widest rights) and inline capture processing, so every path runs now
    settings.CAPTURE_PROCESSING = "inline"
    # when schemathesis sends whatever the schema allows, and things it does not
    response = case.call(headers={"Authorization": f"Bearer {admin_token}"})
    # then the API answers with a success or a clear 4xx, never a 500
    assert response.status_code < 500, f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
