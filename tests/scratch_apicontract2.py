import json
import pytest
from tandem.users.models import Role
from tandem.users.services import api_token_create
from tests.users.factories import UserFactory


@pytest.mark.django_db
def test_probe(client):
    token = api_token_create(user=UserFactory(role=Role.ADMIN), name="x")[1]
    h = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for raw in ["[]", "5", '"x"', "null", "", "{}", '{"k": 3}', '{"k": "3"}', "[1,2]", "true", '{"k": null}']:
        r = client.post("/api/themes/999/split", data=raw, content_type="application/json", **h)
        print(repr(raw), r.status_code, r.content[:200])
