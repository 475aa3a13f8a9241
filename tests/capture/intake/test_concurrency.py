"""Many submissions at once, from several threads, through a real threaded server: every lead exactly once."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tandem.campaigns.models import Campaign, Touchpoint
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
