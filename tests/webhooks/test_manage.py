"""Managing webhooks: the API, the pages and the `tandem webhooks` command, admins only; the OpenAPI webhooks."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.core.management import CommandError, call_command

from tandem.api import api
from tandem.core.models import Event
from tandem.webhooks.catalog import EVENT_TYPES, envelope_schema
from tandem.webhooks.models import Delivery, Endpoint
from tandem.webhooks.services import endpoint_create, webhook_emit
from tests.users.factories import UserFactory
from tests.webhooks.receiver import receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client):  # type: ignore[no-untyped-def]
    user = UserFactory(role="admin")
    client.force_login(user)
    return user


# ---- the OpenAPI document ----


def test_the_openapi_document_lists_every_event_type_with_its_payload_schema():
    # given / when
    document = api.get_openapi_schema(path_prefix="/api")
    # then every catalog type is a webhook whose body is the envelope around its data schema
    assert document["openapi"].startswith("3.1")
    assert sorted(document["webhooks"]) == sorted(EVENT_TYPES)
    for name, event in EVENT_TYPES.items():
        body = document["webhooks"][name]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body == envelope_schema(event)
        assert body["properties"]["type"]["const"] == name
    member = document["webhooks"]["audience.member_added"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    assert member["schema"]["properties"]["data"]["required"] == [
        "audience_id", "audience_name", "person_id", "email", "first_name", "last_name", "consent_email",
        "consent_calls",
    ]  # fmt: skip


def test_each_catalog_schema_is_a_valid_json_schema_that_accepts_an_example():
    # given the JSON Schema validator schemathesis brings into the dev dependencies
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    example = {"type": "person.erased", "timestamp": "2026-03-02T09:30:00Z", "data": {"id": 7}}
    # when / then: every schema is well-formed, and a real envelope validates while an empty one does not
    for event in EVENT_TYPES.values():
        assert jsonschema_rs.meta.is_valid(envelope_schema(event)), event.name
    validator = jsonschema_rs.Draft202012Validator(envelope_schema(EVENT_TYPES["person.erased"]))
    assert validator.is_valid(example)
    assert not validator.is_valid({**example, "data": {}})


# ---- the API ----


def test_an_admin_adds_an_endpoint_and_gets_its_secret_once(client, admin):
    # given / when
    response = client.post(
        "/api/webhooks/endpoints",
        {"url": "https://crm.example/hooks", "event_types": ["deal.won", "deal.lost"], "description": "CRM"},
        content_type="application/json",
    )
    # then
    assert response.status_code == 201
    body = response.json()
    endpoint = Endpoint.objects.get()
    assert body["secret"] == endpoint.secret and re.fullmatch(r"whsec_[A-Za-z0-9+/]{43}=", body["secret"])
    assert (body["url"], body["event_types"], body["active"]) == (
        "https://crm.example/hooks",
        ["deal.won", "deal.lost"],
        True,
    )
    # and it is never shown again
    assert "secret" not in client.get(f"/api/webhooks/endpoints/{endpoint.pk}").json()
    assert "secret" not in client.get("/api/webhooks/endpoints").json()[0]
    assert (
        Event.objects.filter(kind="webhook.endpoint_created", subject_id=endpoint.pk, actor=admin).count()
        == 1
    )


@pytest.mark.parametrize(
    ("payload", "field", "value"),
    [
        ({"url": "ftp://crm.example/hooks", "event_types": "*"}, "url", "ftp://crm.example/hooks"),
        ({"url": "javascript:alert(1)", "event_types": "*"}, "url", "javascript:alert(1)"),
        (
            {"url": "https://crm.example/hooks", "event_types": ["deal.teleported"]},
            "event_types",
            "deal.teleported",
        ),
        ({"url": "https://crm.example/hooks", "event_types": []}, "event_types", "[]"),
        ({"url": "https://crm.example/hooks", "event_types": "deal.won"}, "event_types", "deal.won"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(client, admin, payload, field, value):
    # given / when
    response = client.post("/api/webhooks/endpoints", payload, content_type="application/json")
    # then
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["value"]) == (field, value)
    assert Endpoint.objects.count() == 0


def test_private_targets_can_be_refused_by_setting(client, admin, settings):
    # given an installation that refuses private addresses
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    # when / then
    for url in ("http://127.0.0.1:8080/x", "http://10.1.2.3/x", "http://localhost/x"):
        response = client.post(
            "/api/webhooks/endpoints", {"url": url, "event_types": "*"}, content_type="application/json"
        )
        assert (response.status_code, response.json()["field"]) == (422, "url")
    assert Endpoint.objects.count() == 0


def test_other_roles_are_refused_and_nothing_changes(client):
    # given a marketing user and an endpoint
    endpoint = endpoint_create(url="https://crm.example/hooks", event_types="*")
    client.force_login(UserFactory(role="marketing"))
    # when / then
    assert client.get("/api/webhooks/endpoints").status_code == 403
    assert client.post(f"/api/webhooks/endpoints/{endpoint.pk}/rotate").status_code == 403
    assert client.delete(f"/api/webhooks/endpoints/{endpoint.pk}").status_code == 403
    assert client.get("/webhooks/").status_code == 403
    assert Endpoint.objects.get().secret == endpoint.secret


def test_update_rotate_disable_enable_and_remove_through_the_api(client, admin):
    # given
    endpoint = endpoint_create(url="https://crm.example/hooks", event_types="*")
    # when the event types change and it is disabled
    response = client.patch(
        f"/api/webhooks/endpoints/{endpoint.pk}",
        {"event_types": ["person.created"], "active": False},
        content_type="application/json",
    )
    # then
    assert response.status_code == 200
    assert (response.json()["event_types"], response.json()["active"]) == (["person.created"], False)
    assert response.json()["disabled_reason"] == "set through the API"
    # when re-enabled and rotated
    assert client.patch(
        f"/api/webhooks/endpoints/{endpoint.pk}", {"active": True}, content_type="application/json"
    ).json()["active"]
    rotated = client.post(f"/api/webhooks/endpoints/{endpoint.pk}/rotate").json()
    endpoint.refresh_from_db()
    assert rotated["secret"] == endpoint.secret and endpoint.previous_secret != ""
    assert rotated["rotation_overlap_until"] is not None
    # when removed
    assert client.delete(f"/api/webhooks/endpoints/{endpoint.pk}").status_code == 204
    assert Endpoint.objects.count() == 0
    assert client.get(f"/api/webhooks/endpoints/{endpoint.pk}").json()["field"] == "endpoint_id"


def test_the_delivery_log_pages_with_a_cursor_and_a_replay_is_queued(client, admin):
    # given five deliveries
    endpoint = endpoint_create(url="https://crm.example/hooks", event_types="*")
    for i in range(5):
        webhook_emit(event_type="person.erased", data={"id": i + 1})
    ids = list(Delivery.objects.order_by("-id").values_list("id", flat=True))
    # when read two at a time
    first = client.get("/api/webhooks/deliveries", {"limit": 2, "endpoint_id": endpoint.pk}).json()
    second = client.get("/api/webhooks/deliveries", {"limit": 2, "cursor": first["next_cursor"]}).json()
    third = client.get("/api/webhooks/deliveries", {"limit": 2, "cursor": second["next_cursor"]}).json()
    # then newest first, every row once
    assert [d["id"] for d in first["items"] + second["items"] + third["items"]] == ids
    assert third["next_cursor"] is None
    assert first["items"][0]["status"] == "pending"
    # a bad cursor or status is named
    bad = client.get("/api/webhooks/deliveries", {"cursor": "nope"})
    assert (bad.status_code, bad.json()["field"]) == (422, "cursor")
    assert client.get("/api/webhooks/deliveries", {"status": "lost"}).json()["field"] == "status"
    # when one is replayed
    response = client.post(f"/api/webhooks/deliveries/{ids[0]}/replay")
    assert (response.status_code, response.json()["status"]) == (202, "pending")
    detail = client.get(f"/api/webhooks/deliveries/{ids[0]}").json()
    assert json.loads(detail["body"]) == {
        "type": "person.erased",
        "timestamp": json.loads(detail["body"])["timestamp"],
        "data": {"id": 5},
    }
    assert detail["attempt_log"] == []


def test_a_test_ping_reaches_the_receiver_and_answers_what_it_said(client, admin):
    # given
    with receiver() as hook:
        endpoint = endpoint_create(url=hook.url, event_types=["deal.won"])
        # when
        response = client.post(f"/api/webhooks/endpoints/{endpoint.pk}/ping")
        # then
        assert response.status_code == 200
        assert (response.json()["status"], response.json()["last_response_code"]) == ("succeeded", 200)
        assert json.loads(hook.requests[0].body)["type"] == "webhook.ping"


# ---- the pages ----


def test_the_pages_list_create_show_the_secret_once_and_replay(client, admin):
    # given / when an admin adds an endpoint through the form
    response = client.post(
        "/webhooks/",
        {
            "url": "https://crm.example/hooks",
            "description": "CRM",
            "event_types": ["deal.won", "person.created"],
        },
    )
    # then the answer shows the secret, once
    endpoint = Endpoint.objects.get()
    assert response.status_code == 200
    assert endpoint.secret in response.content.decode()
    assert endpoint.event_types == ["deal.won", "person.created"]
    listing = client.get("/webhooks/")
    assert listing.status_code == 200 and "https://crm.example/hooks" in listing.content.decode()
    detail = client.get(f"/webhooks/{endpoint.pk}/")
    assert detail.status_code == 200 and endpoint.secret not in detail.content.decode()
    # when a delivery exists it is in the log, with its page, and can be replayed
    webhook_emit(event_type="deal.won", data={"deal_id": 1})
    delivery = Delivery.objects.get()
    assert delivery.message_id in client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert client.get(f"/webhooks/deliveries/{delivery.pk}/").status_code == 200
    assert client.post(f"/webhooks/deliveries/{delivery.pk}/replay/").status_code == 302
    # when the secret is rotated from the page, the new one is shown once
    rotated = client.post(f"/webhooks/{endpoint.pk}/action/", {"action": "rotate"})
    endpoint.refresh_from_db()
    assert endpoint.secret in rotated.content.decode()


def test_a_bad_form_says_which_field_and_keeps_what_was_typed(client, admin):
    # given / when
    response = client.post("/webhooks/", {"url": "gopher://x", "event_types": ["deal.won"]})
    # then
    assert response.status_code == 422
    assert "url &#x27;gopher://x&#x27; must start with http:// or https://" in response.content.decode()
    assert Endpoint.objects.count() == 0


# ---- the command line ----


def test_the_command_adds_lists_rotates_shows_deliveries_replays_and_removes():
    # given / when an endpoint is added
    with receiver() as hook:
        out = io.StringIO()
        call_command(
            "webhooks",
            "add",
            hook.url,
            "--events",
            "person.erased,deal.won",
            stdout=out,
            stderr=io.StringIO(),
        )
        endpoint = Endpoint.objects.get()
        # then the secret is printed
        assert out.getvalue() == f"added endpoint {endpoint.pk}: {hook.url}\n{endpoint.secret}\n"
        assert endpoint.event_types == ["person.erased", "deal.won"]
        listed = io.StringIO()
        call_command("webhooks", "list", stdout=listed)
        assert (
            listed.getvalue()
            == f"{endpoint.pk:>4}  {hook.url}  active  failures=0  events=person.erased,deal.won\n"
        )
        # when a delivery is replayed from the command line it is sent at once
        webhook_emit(event_type="person.erased", data={"id": 9})
        delivery = Delivery.objects.get()
        replayed = io.StringIO()
        call_command("webhooks", "replay", str(delivery.pk), stdout=replayed)
        assert replayed.getvalue() == f"{delivery.message_id}: succeeded (200)\n"
        assert len(hook.requests) == 1
    shown = io.StringIO()
    call_command("webhooks", "deliveries", stdout=shown)
    assert f"{delivery.message_id}  endpoint={endpoint.pk}  person.erased" in shown.getvalue()
    rotated = io.StringIO()
    call_command("webhooks", "rotate", str(endpoint.pk), stdout=rotated, stderr=io.StringIO())
    endpoint.refresh_from_db()
    assert rotated.getvalue() == endpoint.secret + "\n"
    call_command("webhooks", "remove", str(endpoint.pk), stdout=io.StringIO())
    assert Endpoint.objects.count() == 0


def test_the_command_names_a_bad_event_type():
    # given / when / then
    with pytest.raises(CommandError, match=r"unknown event type 'deal\.teleported'"):
        call_command(
            "webhooks", "add", "https://x.example/h", "--events", "deal.teleported", stdout=io.StringIO()
        )
    with pytest.raises(CommandError, match="no webhook endpoint with id 99"):
        call_command("webhooks", "rotate", "99", stdout=io.StringIO())
    assert Endpoint.objects.count() == 0
