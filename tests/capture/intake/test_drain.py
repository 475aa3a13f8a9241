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
    # then the drain counts as busy; with 99 it would not
    assert processing._busy(now=now) is True
    Submission.objects.filter(pk=Submission.objects.order_by("id").first().pk).delete()
    assert processing._busy(now=now) is False


def test_an_old_backlog_is_drained_even_while_busy():
    # given a burst now, behind one row waiting for 30 seconds
    now = timezone.now()
    form = make_form()
    _journal(form, n=1, at=now - dt.timedelta(seconds=30))
    _journal(form, n=150, at=now - dt.timedelta(milliseconds=200))
    # then the drain does not wait, and a paced drain processes everything
    assert processing._busy(now=now) is False
    result = processing.submissions_drain(pace=True)
    assert result.processed == 151
    assert Person.objects.count() == 151


def test_a_paced_drain_pauses_then_processes_when_the_burst_is_over(monkeypatch):
    # given a burst, and a clock that moves past it after the first pause
    now = timezone.now()
    _journal(make_form(), n=120, at=now)
    pauses = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        monkeypatch.setattr(processing, "_busy", lambda *, now: False)

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
