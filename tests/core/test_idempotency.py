"""Idempotency-Key on the API's creates (tandem.core.idempotency, docs/api.md#idempotency)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from tandem.core.idempotency import idempotency_keys_prune
from tandem.core.models import Event, IdempotencyKey
from tandem.crm.models import Person, StageChange
from tandem.users.roles import roles_sync
from tandem.users.services import api_token_create
from tests.users.factories import UserFactory

BODY = {"email": "ann@example.com", "first_name": "Ann"}


def _counts() -> tuple[int, int, int, int]:
    return (
        Person.objects.count(),
        StageChange.objects.count(),
        Event.objects.count(),
        IdempotencyKey.objects.count(),
    )


@pytest.fixture
def token(db) -> str:
    return api_token_create(user=UserFactory(username="mia", role="marketing"), name="script")[1]


def _post(client: Client, token: str, body: dict, key: str | None = "k-1", path: str = "/api/people"):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(path, body, content_type="application/json", headers=headers)


def test_a_retry_with_the_same_key_gets_the_first_answer_and_writes_nothing(client, token):
    # given a person created with a key
    first = _post(client, token, BODY)
    after_first = _counts()
    # when the same request is sent again with the same key
    second = _post(client, token, BODY)
    # then the first answer comes back byte for byte, marked as replayed, and nothing more was written
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert second.status_code == 201
    assert second.content == first.content
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.headers["Content-Type"] == "application/json; charset=utf-8"
    assert after_first == (1, 1, after_first[2], 1)
    assert _counts() == after_first
    row = IdempotencyKey.objects.get()
    assert (row.key, row.user.username, row.method, row.path, row.status_code) == (
        "k-1",
        "mia",
        "POST",
        "/api/people",
        201,
    )


def test_the_same_key_with_another_body_is_refused_with_422_and_writes_nothing(client, token):
    # given a person created with a key
    _post(client, token, BODY)
    before = _counts()
    # when the key is sent again with a different body
    response = _post(client, token, {"email": "bob@example.com"})
    # then 422 names the header and the key; no second person, no event, no second key
    assert response.status_code == 422
    body = response.json()
    assert (body["field"], body["value"]) == ("Idempotency-Key", "k-1")
    assert body["detail"].startswith(
        "Idempotency-Key 'k-1' was used for another request (POST /api/people at "
    )
    assert _counts() == before
    assert not Person.objects.filter(email="bob@example.com").exists()


def test_the_same_key_on_another_path_is_refused(client, token):
    # given a key used to create a person
    _post(client, token, BODY)
    before = _counts()
    # when the key is sent to another create with the same body
    response = _post(client, token, {"name": "Spring launch", "channel": "email"}, path="/api/campaigns")
    # then 422 naming the header; nothing written
    assert response.status_code == 422
    assert response.json()["field"] == "Idempotency-Key"
    assert _counts() == before


def test_keys_belong_to_their_user(client, token):
    # given a key used by one user
    _post(client, token, BODY)
    other = api_token_create(user=UserFactory(role="marketing"), name="script")[1]
    # when another user sends the same key with another person
    response = _post(client, other, {"email": "cy@example.com"})
    # then it is a new request for them
    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response.headers
    assert Person.objects.count() == 2
    assert IdempotencyKey.objects.count() == 2


def test_a_refused_create_keeps_no_key_so_the_corrected_request_may_use_it(client, token):
    # given a create refused for its input
    before = _counts()
    refused = _post(client, token, {"email": "not-an-email"})
    after_refusal = _counts()
    # when the corrected request is sent with the same key
    fixed = _post(client, token, BODY)
    # then the refusal kept nothing, and the corrected create ran
    assert refused.status_code == 422
    assert after_refusal == before
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed.headers
    assert Person.objects.get().email == "ann@example.com"


def test_a_create_without_a_key_is_not_remembered(client, token):
    # given / when two creates without the header
    first = _post(client, token, BODY, key=None)
    second = _post(client, token, {"email": "bob@example.com"}, key=None)
    # then both ran and no key was stored
    assert (first.status_code, second.status_code) == (201, 201)
    assert IdempotencyKey.objects.count() == 0


@pytest.mark.parametrize(
    ("key", "value"),
    [("", ""), ("x" * 256, "x" * 256), ("two words", "two words"), ("tab\there", "tab\there")],
)
def test_a_malformed_key_is_refused_naming_the_header(client, token, key, value):
    # given / when a create with a key that is empty, too long or not visible ASCII
    before = _counts()
    response = _post(client, token, BODY, key=key)
    # then 422 naming the header and the value; nothing written
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["value"]) == ("Idempotency-Key", value)
    assert _counts() == before


def test_the_quoted_structured_field_form_is_the_same_key(client, token):
    # given a key sent bare
    first = _post(client, token, BODY, key="abc")
    # when it is sent as the IETF draft's quoted string
    second = _post(client, token, BODY, key='"abc"')
    # then it is the same key
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.content == first.content
    assert IdempotencyKey.objects.get().key == "abc"


def test_an_expired_key_is_a_new_request_and_the_worker_prunes_it(client, token, settings):
    # given a key used 25 hours ago (the default keeps them 24)
    _post(client, token, BODY)
    IdempotencyKey.objects.update(created_at=timezone.now() - dt.timedelta(hours=25))
    # when it is used again with another body
    again = _post(client, token, {"email": "bob@example.com"})
    # then it runs as a new request, and the old row was replaced
    assert again.status_code == 201
    assert Person.objects.count() == 2
    assert IdempotencyKey.objects.get().path == "/api/people"
    # and when the worker prunes a day and an hour later, the key goes
    assert idempotency_keys_prune(now=timezone.now() + dt.timedelta(hours=23)) == 0
    assert idempotency_keys_prune(now=timezone.now() + dt.timedelta(hours=25)) == 1
    assert IdempotencyKey.objects.count() == 0


def test_a_refused_role_gets_403_and_leaves_no_key(client, db):
    # given a viewer's token
    viewer = api_token_create(user=UserFactory(role="viewer"), name="script")[1]
    before = _counts()
    # when the viewer tries a create with a key
    response = _post(client, viewer, BODY)
    # then 403 and nothing was written
    assert response.status_code == 403
    assert _counts() == before


@pytest.mark.django_db(transaction=True)
def test_two_requests_with_the_same_key_at_once_create_one_person():
    # given a token (the flushed database gets its role groups back first), and two clients that send the same
    # create at the same moment on their own connections
    roles_sync()
    token = api_token_create(user=UserFactory(role="marketing"), name="script")[1]
    barrier = threading.Barrier(2)
    answers: list[tuple[int, bytes, str]] = []

    def send() -> None:
        try:
            barrier.wait()
            response = _post(Client(), token, BODY)
            answers.append(
                (response.status_code, response.content, response.headers.get("Idempotent-Replayed", ""))
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    # when both run
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # then one created the person and the other, having waited for it, got the same answer replayed
    assert sorted(flag for _, _, flag in answers) == ["", "true"]
    assert [status for status, _, _ in answers] == [201, 201]
    assert answers[0][1] == answers[1][1]
    assert Person.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1


def test_erasing_a_person_deletes_the_stored_answers_that_name_them(client, token):
    # given a person created with a key, and another person's key
    _post(client, token, BODY)
    _post(client, token, {"email": "bob@example.com"}, key="k-2")
    from tandem.privacy.services import person_erase

    # when the first person is erased
    erasure = person_erase(person=Person.objects.get(email="ann@example.com"), reason="request 7")
    # then the answer that held their address is gone; the other stays
    assert erasure.counts["idempotency_keys"] == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["k-2"]
