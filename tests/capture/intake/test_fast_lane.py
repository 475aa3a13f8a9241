"""The fast lane for form posts answers exactly as the API route it skips to, and takes nothing else."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tandem.capture.intake.middleware import CaptureFastLaneMiddleware
from tandem.capture.models import Submission
from tests.capture.factories import make_form

pytestmark = pytest.mark.django_db

FAST_LANE = "tandem.capture.intake.middleware.CaptureFastLaneMiddleware"


def _answer(response: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
    body = response.json()
    body.pop("submission_id", None)  # a new journal row each time
    headers = {h: response.headers[h] for h in ("Content-Type", "Retry-After", "Idempotent-Replayed") if h in response.headers}
    return response.status_code, body, headers


def _cases(key: str) -> list[tuple[str, bytes, str, dict[str, str]]]:
    good = json.dumps({"email": "ann@example.com", "first_name": "Ann", "utm_campaign": "spring"}).encode()
    return [
        (key, good, "application/json", {}),
        (key, good, "application/json", {"Idempotency-Key": "same-key"}),
        (key, good, "application/json", {"Idempotency-Key": "same-key"}),
        (key, json.dumps({"first_name": "No email"}).encode(), "application/json", {}),
        (key, json.dumps({"email": "not-an-address"}).encode(), "application/json", {}),
        (key, b"{not json", "application/json", {}),
        (key, good, "text/plain", {}),
        (key, b'{"email": "big@example.com", "note": "' + b"x" * 70_000 + b'"}', "application/json", {}),
        ("no-such-form", good, "application/json", {}),
    ]


def _send_all(key: str) -> list[tuple[int, dict[str, Any], dict[str, str]]]:
    client = Client()
    return [
        _answer(client.post(f"/api/capture/forms/{k}/submissions", data=body, content_type=ctype, headers=headers))
        for k, body, ctype, headers in _cases(key)
    ]


def test_the_fast_lane_answers_every_case_as_the_api_route_does(settings):
    # given a form, and the same posts (good, a retry, missing and malformed fields, bad JSON, wrong type,
    # oversize, unknown key) sent once through the fast lane and once through django-ninja's route
    form = make_form()
    assert FAST_LANE in settings.MIDDLEWARE
    # when both ways answer (the idempotency key is fresh for each way: the journal is emptied in between)
    fast = _send_all(form.public_key)
    fast_rows = list(Submission.objects.order_by("id").values_list("status", "http_status", "error_field", "body_size"))
    Submission.objects.all().delete()
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != FAST_LANE]
    routed = _send_all(form.public_key)
    routed_rows = list(Submission.objects.order_by("id").values_list("status", "http_status", "error_field", "body_size"))
    # then the answers and the journal rows are the same, and every case answered as the API documents
    assert fast == routed
    assert fast_rows == routed_rows
    assert [status for status, _, _ in fast] == [201, 201, 200, 422, 422, 400, 415, 413, 404]


def test_the_fast_lane_takes_only_posts_to_the_exact_submission_path(rf):
    # given the middleware in front of a stand-in for the rest of the stack
    seen: list[str] = []

    def rest(request: Any) -> Any:
        seen.append(f"{request.method} {request.path_info}")
        return "rest"

    lane = CaptureFastLaneMiddleware(rest)
    # when other methods and near-miss paths arrive
    for request in (
        rf.get("/api/capture/forms/abc/submissions"),
        rf.post("/api/capture/forms/abc/submissions/", data=b"{}", content_type="application/json"),
        rf.post("/api/capture/forms/a/b/submissions", data=b"{}", content_type="application/json"),
        rf.post("/api/capture/track", data=b"{}", content_type="application/json"),
        rf.post("/x/api/capture/forms/abc/submissions", data=b"{}", content_type="application/json"),
    ):
        assert lane(request) == "rest"
    # then every one of them went on to the rest of the stack, untouched
    assert seen == [
        "GET /api/capture/forms/abc/submissions",
        "POST /api/capture/forms/abc/submissions/",
        "POST /api/capture/forms/a/b/submissions",
        "POST /api/capture/track",
        "POST /x/api/capture/forms/abc/submissions",
    ]


def test_a_form_post_through_the_fast_lane_keeps_the_security_headers():
    # given a form
    form = make_form()
    # when it is posted
    response = Client().post(
        f"/api/capture/forms/{form.public_key}/submissions", data={"email": "ann@example.com"}, content_type="application/json"
    )
    # then the security middleware, which runs before the fast lane, still set its headers
    assert response.status_code == 201
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_form_post_for_a_host_outside_allowed_hosts_is_refused_and_not_journaled(settings):
    # given a form, and a server that answers for tandem.example only
    form = make_form()
    settings.ALLOWED_HOSTS = ["tandem.example"]
    # when a post names another host
    response = Client().post(
        f"/api/capture/forms/{form.public_key}/submissions",
        data={"email": "ann@example.com"},
        content_type="application/json",
        headers={"Host": "evil.example"},
    )
    # then it is a 400, as on every other path, and nothing was journaled
    assert response.status_code == 400
    assert Submission.objects.count() == 0
