"""Outbound webhooks end to end: a real receiver, a real stage change, signatures verified with standardwebhooks."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from huey.contrib.djhuey import HUEY
from standardwebhooks import Webhook

from tandem.core.models import Event
from tandem.crm.services import person_change_stage
from tandem.lifecycle.models import Notification
from tandem.webhooks.models import Delivery, DeliveryAttempt, Endpoint
from tandem.webhooks.services import (
    deliveries_prune,
    deliveries_send_due,
    delivery_replay,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_set_active,
    webhook_emit,
    webhooks_emit_bulk,
)
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory
from tests.webhooks.receiver import receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def immediate():  # type: ignore[no-untyped-def]
    # Huey runs a queued task at once, as the worker would right after the commit.
    before = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = before


def test_a_stage_change_reaches_a_real_receiver_signed_to_the_standard(
    immediate, django_capture_on_commit_callbacks
):
    # given a lead and an endpoint subscribed to stage changes, listening on a real port
    person = PersonFactory(email="ann@acme.example", first_name="Ann", stage="lead")
    admin = UserFactory(role="admin")
    with receiver() as hook:
        endpoint = endpoint_create(url=hook.url, event_types=["person.stage_changed"], by_user=admin)
        at = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
        # when marketing hands the lead over (a real stage change through crm's service) and the write commits
        with django_capture_on_commit_callbacks(execute=True):
            change = person_change_stage(
                person=person, to_stage="mql", at=at, by_user=admin, reason="Hot lead"
            )
        # then one POST arrived, and standardwebhooks verifies it with the endpoint's secret
        assert len(hook.requests) == 1
        got = hook.requests[0]
        payload = Webhook(endpoint.secret).verify(got.body, got.headers)
    assert payload == {
        "type": "person.stage_changed",
        "timestamp": "2026-03-02T09:30:00Z",
        "data": {
            "person_id": person.pk,
            "from_stage": "lead",
            "to_stage": "mql",
            "changed_at": "2026-03-02T09:30:00Z",
            "rule": "",
            "rule_version": None,
            "by_user_id": admin.pk,
            "reason": "Hot lead",
        },
    }
    delivery = Delivery.objects.get()
    assert got.headers["webhook-id"] == delivery.message_id
    assert delivery.message_id.startswith("msg_")
    assert got.headers["webhook-signature"].startswith("v1,") and " " not in got.headers["webhook-signature"]
    assert got.headers["content-type"] == "application/json"
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == ("succeeded", 1, 200)
    assert delivery.next_attempt_at is None and delivery.succeeded_at is not None
    assert delivery.response_excerpt == '{"ok": true}'
    assert change.to_stage == "mql"


def test_a_failing_receiver_gets_retries_on_the_schedule_then_the_endpoint_is_disabled_and_admins_told(
    immediate, django_capture_on_commit_callbacks, settings
):
    # given a schedule shrunk for the test and an endpoint disabled after three failed attempts in a row
    settings.WEBHOOKS_RETRY_SCHEDULE = [5, 300, 1800]
    settings.WEBHOOKS_DISABLE_AFTER = 3
    admin = UserFactory(role="admin")
    rep = UserFactory(role="sales_rep")
    person = PersonFactory(stage="lead")
    with receiver(status=500) as hook:
        endpoint = endpoint_create(url=hook.url, event_types="*", by_user=admin)
        # when a stage change is delivered to a receiver that answers 500
        with django_capture_on_commit_callbacks(execute=True):
            person_change_stage(person=person, to_stage="mql")
        delivery = Delivery.objects.get()
        first = delivery.next_attempt_at
        # then the first failure waits 5 s
        assert (delivery.status, delivery.attempts, delivery.last_response_code) == ("failed", 1, 500)
        assert first - delivery.last_attempt_at == dt.timedelta(seconds=5)
        # nothing is due before then
        assert deliveries_send_due(now=first - dt.timedelta(seconds=1)) == 0
        # when the worker sends what is due at each next attempt
        assert deliveries_send_due(now=first) == 1
        delivery.refresh_from_db()
        second = delivery.next_attempt_at
        assert second - first == dt.timedelta(seconds=300)
        assert deliveries_send_due(now=second) == 1
        delivery.refresh_from_db()
        # then the third failure in a row disables the endpoint; the delivery waits for it to come back
        endpoint.refresh_from_db()
        assert delivery.next_attempt_at - second == dt.timedelta(seconds=1800)
        assert (delivery.status, delivery.attempts) == ("failed", 3)
        assert len(hook.requests) == 3
        assert {r.headers["webhook-id"] for r in hook.requests} == {delivery.message_id}
        assert endpoint.active is False
        assert endpoint.disabled_reason == "3 failed attempts in a row (the last: HTTP 500)"
        assert endpoint.disabled_at == second
        # and nothing more is sent to a disabled endpoint
        assert deliveries_send_due(now=second + dt.timedelta(days=1)) == 0
    attempts = list(
        DeliveryAttempt.objects.order_by("attempted_at").values_list("response_code", "succeeded")
    )
    assert attempts == [(500, False)] * 3
    notes = list(Notification.objects.values_list("user_id", "kind", "text", "url"))
    assert notes == [
        (
            admin.pk,
            "webhook_disabled",
            f"Webhook endpoint {hook.url} was disabled: 3 failed attempts in a row (the last: HTTP 500)",
            f"/webhooks/{endpoint.pk}/",
        )
    ]
    assert rep.pk not in {n[0] for n in notes}
    event = Event.objects.get(kind="webhook.endpoint_disabled")
    assert (event.subject_id, event.reason) == (endpoint.pk, endpoint.disabled_reason)


def test_the_last_retry_failing_abandons_the_delivery(
    immediate, django_capture_on_commit_callbacks, settings
):
    # given a one-retry schedule and a high disabling threshold
    settings.WEBHOOKS_RETRY_SCHEDULE = [5]
    settings.WEBHOOKS_DISABLE_AFTER = 100
    with receiver(status=404) as hook:
        endpoint_create(url=hook.url, event_types=["person.created"])
        with django_capture_on_commit_callbacks(execute=True):
            PersonFactory()
        delivery = Delivery.objects.get()
        # when the retry fails too
        deliveries_send_due(now=delivery.next_attempt_at)
    # then it is abandoned, with no next attempt; the endpoint stays active
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("abandoned", 2, None)
    assert Endpoint.objects.get().active is True


def test_during_a_rotation_each_message_carries_two_signatures_both_verifiable(
    immediate, django_capture_on_commit_callbacks
):
    # given an endpoint whose secret was just rotated
    with receiver() as hook:
        endpoint = endpoint_create(url=hook.url, event_types=["person.created"])
        old = endpoint.secret
        endpoint_rotate_secret(endpoint=endpoint)
        new = endpoint.secret
        # when a person is created
        with django_capture_on_commit_callbacks(execute=True):
            person = PersonFactory(email="bo@acme.example")
        # then the signature header holds two v1 signatures, and each secret verifies the message
        got = hook.requests[0]
        signatures = got.headers["webhook-signature"].split(" ")
        assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
        assert Webhook(old).verify(got.body, got.headers)["data"]["id"] == person.pk
        assert Webhook(new).verify(got.body, got.headers)["data"]["email"] == "bo@acme.example"
        # when the overlap has ended
        Endpoint.objects.filter(pk=endpoint.pk).update(
            previous_secret_expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
        )
        with django_capture_on_commit_callbacks(execute=True):
            PersonFactory(email="cy@acme.example")
        # then only the new secret signs
        later = hook.requests[1]
        assert " " not in later.headers["webhook-signature"]
        assert Webhook(new).verify(later.body, later.headers)["data"]["email"] == "cy@acme.example"
    assert old != new and new.startswith("whsec_")


def test_a_replay_sends_the_same_message_again_under_the_same_id(
    immediate, django_capture_on_commit_callbacks
):
    # given a delivered message
    admin = UserFactory(role="admin")
    with receiver() as hook:
        endpoint = endpoint_create(url=hook.url, event_types=["person.created"])
        with django_capture_on_commit_callbacks(execute=True):
            PersonFactory()
        delivery = Delivery.objects.get()
        # when an admin replays it
        with django_capture_on_commit_callbacks(execute=True):
            delivery_replay(delivery=delivery, by_user=admin)
        # then the receiver got the same body under the same message id, twice, both verifiable
        first, second = hook.requests
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.message_id
        assert first.body == second.body
        Webhook(endpoint.secret).verify(second.body, second.headers)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert Event.objects.filter(kind="webhook.delivery_replayed", actor=admin).count() == 1


def test_a_disabled_endpoint_gets_nothing_new_and_its_waiting_deliveries_resume_when_re_enabled(
    immediate, django_capture_on_commit_callbacks
):
    # given an endpoint disabled by hand while a failed delivery waits for its retry
    with receiver(status=503) as hook:
        endpoint = endpoint_create(url=hook.url, event_types=["person.created"])
        with django_capture_on_commit_callbacks(execute=True):
            PersonFactory()
        endpoint_set_active(endpoint=endpoint, active=False, reason="maintenance")
        hook.status = 200
        # when another person is created
        with django_capture_on_commit_callbacks(execute=True):
            PersonFactory()
        # then nothing new was made for it, nothing more was sent
        assert Delivery.objects.count() == 1 and len(hook.requests) == 1
        # when it is re-enabled (the receiver fixed)
        with django_capture_on_commit_callbacks(execute=True):
            endpoint_set_active(endpoint=endpoint, active=True)
        # then the waiting delivery goes out at once
        assert len(hook.requests) == 2
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)
    assert Endpoint.objects.get().consecutive_failures == 0


def test_nothing_is_emitted_when_nobody_subscribes_and_it_costs_one_query(django_assert_num_queries):
    # given an endpoint subscribed only to another type, and a disabled one subscribed to all
    endpoint_create(url="https://hooks.example/a", event_types=["deal.won"])
    off = endpoint_create(url="https://hooks.example/b", event_types="*")
    endpoint_set_active(endpoint=off, active=False)

    def never():  # type: ignore[no-untyped-def]
        raise AssertionError("the items were built although nobody subscribes")
        yield {}

    # when a bulk writer emits outside any transaction: one query, the generator never runs, no row
    with transaction.atomic():
        pass
    with CaptureQueriesContext(connection) as outside:
        made = webhooks_emit_bulk(event_type="person.created", items=never())
    # then
    assert made == 0 and Delivery.objects.count() == 0
    assert len(outside.captured_queries) <= 1
    # and inside a transaction that already asked, no query at all
    with transaction.atomic():
        webhook_emit(event_type="person.created", data={"id": 1})
        with django_assert_num_queries(0):
            assert webhook_emit(event_type="person.updated", data={"id": 1}) == 0
            assert webhooks_emit_bulk(event_type="person.stage_changed", items=never()) == 0


def test_an_unknown_event_type_is_refused_by_name():
    # given / when / then
    from tandem.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as refused:
        webhook_emit(event_type="person.teleported", data={})
    assert (refused.value.field, refused.value.value) == ("event_type", "person.teleported")


def test_a_subscriber_gets_one_delivery_per_item_of_a_bulk_emit_in_one_insert(django_assert_num_queries):
    # given two endpoints, one subscribed to all
    endpoint_create(url="https://hooks.example/a", event_types=["person.stage_changed"])
    endpoint_create(url="https://hooks.example/b", event_types="*")
    items = [{"person_id": i} for i in range(1, 4)]
    # when (inside the test's transaction: endpoints read, one insert, one outbox row)
    with django_assert_num_queries(3):
        made = webhooks_emit_bulk(event_type="person.stage_changed", items=items)
    # then 3 messages × 2 endpoints, each message one id shared by both endpoints
    assert made == 6
    rows = list(Delivery.objects.order_by("id").values_list("message_id", "body"))
    assert len({m for m, _ in rows}) == 3
    assert json.loads(rows[0][1])["data"] == {"person_id": 1}


def test_the_nightly_prune_drops_finished_deliveries_past_retention_and_keeps_the_rest(settings):
    # given an endpoint with five deliveries: old succeeded, old abandoned, old failed, old pending, new succeeded
    settings.WEBHOOKS_RETENTION_DAYS = 30
    now = dt.datetime(2026, 12, 7, 3, 41, tzinfo=dt.UTC)
    endpoint = endpoint_create(url="http://127.0.0.1:9/hook", event_types="*", by_user=UserFactory(role="admin"))
    assert webhooks_emit_bulk(event_type="person.erased", items=[{"id": n} for n in range(1, 6)]) == 5
    rows = list(Delivery.objects.filter(endpoint=endpoint).order_by("id"))
    plan = [("succeeded", 31), ("abandoned", 40), ("failed", 90), ("pending", 31), ("succeeded", 29)]
    for row, (status, days) in zip(rows, plan, strict=True):
        waiting = status in ("pending", "failed")
        Delivery.objects.filter(pk=row.pk).update(
            status=status,
            created_at=now - dt.timedelta(days=days),
            next_attempt_at=now if waiting else None,
            succeeded_at=now - dt.timedelta(days=days) if status == "succeeded" else None,
        )
    DeliveryAttempt.objects.create(
        delivery=rows[0], attempted_at=now - dt.timedelta(days=31), response_code=200, duration_ms=5, succeeded=True
    )
    # when the prune runs
    deleted = deliveries_prune(now=now)
    # then the two finished ones past 30 days are gone with their attempts; failed, pending and recent stay
    assert deleted == 2
    assert list(Delivery.objects.order_by("id").values_list("status", flat=True)) == ["failed", "pending", "succeeded"]
    assert not DeliveryAttempt.objects.exists()
