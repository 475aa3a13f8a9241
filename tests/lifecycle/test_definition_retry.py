"""A retried publish of the same definition never publishes a copy: it is a 409 naming the version in force."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tandem.core.models import Event
from tandem.lifecycle.models import DefinitionVersion
from tandem.users.models import Role
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

SPEC: dict[str, Any] = {
    "all": [{"id": "grade", "type": "fit_grade", "op": ">=", "grade": "B"}],
    "any": [{"id": "demo", "type": "touchpoint", "kinds": ["demo_request"], "days": 30}],
}


def test_the_same_publish_twice_is_refused_the_second_time_and_changes_nothing():
    # given an admin who published version 2 of the MQL definition
    admin = Client()
    admin.force_login(UserFactory(role=Role.ADMIN))
    payload = {"stage": "mql", "spec": SPEC, "reason": "Fit matters"}
    first = admin.post("/api/definitions", payload, content_type="application/json")
    events = Event.objects.count()
    # when the same request is sent again (a retry), and then with another reason only
    retried = admin.post("/api/definitions", payload, content_type="application/json")
    reworded = admin.post(
        "/api/definitions", {**payload, "reason": "Once more"}, content_type="application/json"
    )
    # then the first published v2; both others are 409s naming v2, and nothing was written
    assert first.status_code == 201 and first.json()["version"] == 2
    refusal = {
        "detail": "Nothing changed: version 2 in force already says exactly this.",
        "field": "spec",
        "value": "2",
    }
    assert (retried.status_code, retried.json()) == (409, refusal)
    assert (reworded.status_code, reworded.json()) == (409, refusal)
    assert list(DefinitionVersion.objects.filter(stage="mql").values_list("version", flat=True)) == [2, 1]
    assert Event.objects.count() == events
    # when the definition really changes, it publishes v3
    changed = admin.post(
        "/api/definitions",
        {**payload, "spec": {**SPEC, "any": [{**SPEC["any"][0], "days": 60}]}},
        content_type="application/json",
    )
    assert changed.status_code == 201 and changed.json()["version"] == 3
