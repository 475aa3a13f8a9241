"""Many submissions at once, from several threads, through a real threaded server, and drained by several
workers at once: every lead exactly once."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.capture.intake.processing import ProcessResult, submissions_drain
from tandem.capture.models import Submission, UnknownUtm
from tandem.crm.models import Person, StageChange
from tandem.users.roles import roles_sync
from tests.capture.factories import make_form

pytestmark = pytest.mark.django_db(transaction=True)


def _post(url: str, body: dict[str, str]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_200_concurrent_submissions_for_50_emails_leave_50_people_and_200_touchpoints(live_server, settings):
    # given a form and 200 submissions: 50 addresses, each four times (in two spellings), all with an unknown UTM
    # tag, all from this machine's one address (allowed 1,000 a minute here)
    settings.CAPTURE_ADDRESS_RATE_LIMIT = 1_000
    roles_sync()
    form = make_form(rate_limit_per_minute=10_000)
    url = f"{live_server.url}/api/capture/forms/{form.public_key}/submissions"
    bodies = [
        {
            "email": (f"Person{i % 50}@Example.com" if i % 2 else f"person{i % 50}@example.com"),
            "first_name": f"P{i % 50}",
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "launch-week",
        }
        for i in range(200)
    ]
    # when eight threads send them all at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = list(pool.map(lambda body: _post(url, body), bodies))
    # then every one was accepted, and the database holds each person once with all their touchpoints
    assert codes == [201] * 200
    assert Person.objects.count() == 50
    assert Touchpoint.objects.count() == 200
    assert set(Touchpoint.objects.values_list("person_id", flat=True).distinct()) == set(
        Person.objects.values_list("id", flat=True)
    )
    assert StageChange.objects.count() == 50
    assert Submission.objects.filter(status="processed").count() == 200
    # and the unknown tag made no campaign: it was counted 200 times in one row, concurrent batches adding up
    assert Campaign.objects.count() == 0 and Touchpoint.objects.filter(campaign=None).count() == 200
    assert UnknownUtm.objects.values_list("value", "count").get() == ("launch-week", 200)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="parallel drains claim rows with SKIP LOCKED (PostgreSQL)")
def test_three_drains_in_parallel_process_every_row_once_and_each_new_person_once():
    # given 600 journal rows for 120 addresses (each five times, so batches running at once meet the same new
    # people), half of the addresses known already
    form: Any = make_form()
    now = timezone.now()
    for i in range(0, 120, 2):
        Person.objects.create(email=f"known{i}@example.com", email_normalized=f"known{i}@example.com")
    Submission.objects.bulk_create(
        Submission(received_at=now, source="form_json", form=form, key=form.public_key, content_type="application/json",
                   payload=json.dumps({"email": f"{'known' if i % 120 % 2 == 0 else 'new'}{i % 120}@example.com"}))
        for i in range(600)
    )

    def drain() -> ProcessResult:
        try:
            return submissions_drain(limit=40)
        finally:
            connection.close()  # the thread's own connection

    # when three threads drain the journal at the same time, in small batches
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: drain(), range(3)))
    # then every row was processed exactly once, by one of them, none failed, and each new address made one person
    assert sum(r.processed for r in results) == 600 and sum(r.failed for r in results) == 0
    assert list(Submission.objects.order_by().values_list("status", "attempts").distinct()) == [("processed", 1)]
    assert Person.objects.count() == 120
    assert Touchpoint.objects.count() == 600
    assert StageChange.objects.count() == 60
