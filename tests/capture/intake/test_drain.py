"""The background drain steps aside while submissions pour in, but never lets the backlog grow old."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from tandem.capture.intake import processing
from tandem.capture.models import Submission
from tandem.crm.models import Person
from tests.capture.factories import make_form

pytestmark = pytest.mark.django_db


def _journal(form, *, n: int, at: dt.datetime) -> None:  # type: ignore[no-untyped-def]
    Submission.objects.bulk_create(
        Submission(received_at=at, source="form_json", form=form, key=form.public_key, content_type="application/json",
                   payload=json.dumps({"email": f"burst{i}-{at.timestamp()}@example.com"}))
        for i in range(n)
    )


def test_a_burst_of_fresh_submissions_makes_the_drain_wait():
    # given 100 submissions that arrived within the last second
    now = timezone.now()
    _journal(make_form(), n=100, at=now - dt.timedelta(milliseconds=500))
    # then the drain waits; with 99 it would not
    assert processing._pace(now=now) == "wait"
    Submission.objects.filter(pk=Submission.objects.order_by("id").first().pk).delete()
    assert processing._pace(now=now) == "calm"


def test_an_old_backlog_is_drained_even_while_busy(monkeypatch):
    # given a burst now (120 rows in the last second), behind 150 rows waiting for 30 seconds
    now = timezone.now()
    form = make_form()
    _journal(form, n=150, at=now - dt.timedelta(seconds=30))
    _journal(form, n=120, at=now - dt.timedelta(milliseconds=200))
    rests: list[float] = []

    def sleep(seconds: float) -> None:
        rests.append(seconds)
        if seconds == processing.PAUSE_SECONDS:  # the drain waits for the burst: let the burst end
            monkeypatch.setattr(processing, "_pace", lambda *, now: "calm")

    monkeypatch.setattr("time.sleep", sleep)
    # when a paced drain runs
    assert processing._pace(now=now) == "share"
    result = processing.submissions_drain(pace=True)
    # then it did not wait while the backlog was old: it drained the old rows in smaller batches, resting after
    # each as long as the batch took (the burst's requests keep half the database's time); once only young rows
    # were left it waited for the burst to pass, then processed the rest
    small = max(1, processing.batch_size() // processing.SHARE_BATCH_DIVISOR)
    assert small < processing.batch_size()
    shared = -(-150 // small)
    assert all(0 < rest < processing.PAUSE_SECONDS for rest in rests[:shared])
    assert rests[shared:] == [processing.PAUSE_SECONDS]
    assert result.processed == 270
    assert Person.objects.count() == 270


def test_a_paced_drain_pauses_then_processes_when_the_burst_is_over(monkeypatch):
    # given a burst, and a clock that moves past it after the first pause
    now = timezone.now()
    _journal(make_form(), n=120, at=now)
    pauses = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        monkeypatch.setattr(processing, "_pace", lambda *, now: "calm")

    monkeypatch.setattr("time.sleep", sleep)
    # when the paced drain runs
    result = processing.submissions_drain(pace=True)
    # then it paused once and then processed every row
    assert pauses == [processing.PAUSE_SECONDS]
    assert result.processed == 120


def test_the_worker_loop_drains_the_journal_and_survives_a_failed_pass(monkeypatch):
    # given two waiting rows, and a first pass that fails (a lost connection, say)
    _journal(make_form(), n=2, at=timezone.now() - dt.timedelta(minutes=5))
    real = processing.submissions_drain
    calls = []

    def flaky(**kwargs):  # type: ignore[no-untyped-def]
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("connection lost")
        return real(**kwargs)

    monkeypatch.setattr(processing, "submissions_drain", flaky)

    class Stop:
        rounds = 0

        def is_set(self) -> bool:
            self.rounds += 1
            return self.rounds > 3

        def wait(self, seconds: float) -> None:
            pass

    # when the loop runs three rounds
    processing.drain_loop(stop=Stop())
    # then it kept going after the failure and processed both rows
    assert len(calls) == 3 and calls[1] == {"pace": True}
    assert Person.objects.count() == 2


def _mixed(form, *, n: int, tag: str) -> None:  # type: ignore[no-untyped-def]
    # n rows: half from people known already, half new; each ticks consent and carries a known campaign's tags
    for i in range(0, n, 2):
        Person.objects.create(email=f"{tag}{i}@co{i}.example", email_normalized=f"{tag}{i}@co{i}.example")
    Submission.objects.bulk_create(
        Submission(received_at=timezone.now(), source="form_json", form=form, key=form.public_key,
                   content_type="application/json",
                   payload=json.dumps({"email": f"{tag}{i}@co{i}.example", "first_name": f"F{i}", "company": f"Co {i}",
                                       "consent_email": "1", "utm_source": "linkedin", "utm_campaign": "spring"}))
        for i in range(n)
    )


def test_a_batch_costs_the_same_queries_for_4_rows_as_for_20():
    # given a campaign, a first batch done, and two backlogs of 4 and 20 rows, half new people, half returning
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tandem.campaigns.models import Campaign

    Campaign.objects.create(name="Spring", channel="paid_social", utm_source="linkedin", utm_campaign="spring")
    form = make_form()
    _mixed(form, n=2, tag="warm")
    processing.submissions_process()  # caches what every batch reads once (webhook subscribers)
    counts = []
    for n, tag in ((4, "small"), (20, "large")):
        _mixed(form, n=n, tag=tag)
        # when each is processed in one batch
        with CaptureQueriesContext(connection) as queries:
            result = processing.submissions_process(limit=n)
        assert result.processed == n
        counts.append(len(queries))
    # then the batch of 20 took no more queries than the batch of 4: lookups and writes are per batch, not per row
    assert counts[1] == counts[0]
