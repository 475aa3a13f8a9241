"""Background jobs: their services (queued → running → succeeded/failed), who sees them, the API and the fragment."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from django.test import Client
from django.utils import timezone

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.jobs.services import (
    STALE_AFTER,
    job_create,
    job_execute,
    job_fail,
    job_finish,
    job_progress,
    job_start,
)
from tandem.core.models import Event, Job
from tandem.users.models import Role
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _json_time(moment: dt.datetime | None) -> str:
    return str(DjangoJSONEncoder().default(moment))  # as the API writes times: milliseconds, "Z"


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_a_job_goes_from_queued_to_running_to_succeeded_with_its_progress_and_events():
    # given a user
    alice = UserFactory(role=Role.MARKETING, username="alice")
    # when a job is created, started, half done, then finished
    job = job_create(kind="test.work", label="Work", by_user=alice, params={"n": 3}, total=4)
    queued = (job.status, job.percent)
    job_start(job=job)
    job_progress(job=job, done=2, message="Halfway")
    stored = Job.objects.get(pk=job.pk)
    job_finish(job=job, result={"summary": "Did 3 things.", "count": 3})
    # then each step is stored, the percent follows the steps, and the state changes left events
    assert queued == ("queued", 0)
    assert (
        stored.status,
        stored.progress_done,
        stored.progress_total,
        stored.percent,
        stored.progress_message,
    ) == ("running", 2, 4, 50, "Halfway")
    done = Job.objects.get(pk=job.pk)
    assert (done.status, done.percent, done.progress_done, done.result, done.error) == (
        "succeeded",
        100,
        4,
        {"summary": "Did 3 things.", "count": 3},
        "",
    )
    assert done.started_at is not None and done.finished_at is not None and done.requested_by == alice
    assert list(
        Event.objects.filter(subject_type="core.job").order_by("id").values_list("kind", flat=True)
    ) == ["job.queued", "job.started", "job.succeeded"]


def test_an_exclusive_kind_is_refused_while_one_is_active_and_allowed_after():
    # given an exclusive job queued by alice
    alice = UserFactory(role=Role.ADMIN, username="alice")
    first = job_create(kind="test.train", label="Training", by_user=alice, exclusive=True)
    # when another of the same kind is asked for
    with pytest.raises(NotAllowed) as refused:
        job_create(kind="test.train", label="Training", exclusive=True)
    # then it is refused naming the queued job, and nothing was added
    assert refused.value.message == (
        f"Training is already queued (job {first.pk}, started by alice at {first.created_at:%Y-%m-%d %H:%M} UTC); "
        "wait for it to finish."
    )
    assert (refused.value.field, refused.value.value) == ("job", first.pk)
    assert Job.objects.count() == 1
    # when the first fails, a new one may start; a non-exclusive kind never waits
    job_fail(job=first, error="boom")
    second = job_create(kind="test.train", label="Training", exclusive=True)
    job_create(kind="test.other", label="Other")
    job_create(kind="test.other", label="Other")
    assert second.status == "queued" and Job.objects.count() == 4


def test_the_database_refuses_two_active_exclusive_jobs_of_one_kind():
    # given an active exclusive job
    from django.db import IntegrityError, transaction

    first = job_create(kind="test.train", label="Training", exclusive=True)
    now = timezone.now()
    # when a second is inserted behind the service's back (two requests at the same moment)
    # then the unique constraint refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        Job.objects.create(
            kind="test.train", label="Training", exclusive=True, created_at=now, updated_at=now
        )
    assert list(Job.objects.values_list("pk", flat=True)) == [first.pk]


def test_an_exclusive_job_silent_for_too_long_is_abandoned_by_the_next():
    # given a running exclusive job whose last sign of life is older than the limit
    stale = job_create(kind="test.train", label="Training", exclusive=True)
    job_start(job=stale)
    Job.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - STALE_AFTER - dt.timedelta(seconds=1))
    # when a new one is asked for
    fresh = job_create(kind="test.train", label="Training", exclusive=True)
    # then the stale one failed saying why, and the new one is queued
    stale.refresh_from_db()
    assert (
        stale.status == "failed"
        and stale.error == "Abandoned: no sign of life for 30 minutes (did the worker stop?)."
    )
    assert fresh.status == "queued"


def test_job_create_refuses_an_empty_kind():
    # given / when / then
    with pytest.raises(ValidationFailed) as refused:
        job_create(kind=" ", label="Work")
    assert (refused.value.field, refused.value.value) == ("kind", " ")
    assert not Job.objects.exists()


def test_job_execute_records_the_result_an_error_or_an_unexpected_failure_and_never_runs_twice():
    # given three queued jobs
    ok, refused, broken = (job_create(kind="test.work", label="Work") for _ in range(3))

    def work(job: Job) -> dict[str, int]:
        job_progress(job=job, done=1, total=2, message="one of two")
        return {"done": 2}

    def too_few(job: Job) -> None:
        raise ValidationFailed("Too few rows.", field="rows", value=1)

    def crash(job: Job) -> None:
        raise RuntimeError("secret internals")

    # when each runs (the first twice, as a repeated hand-over would)
    job_execute(job_id=ok.pk, work=work)
    again = job_execute(job_id=ok.pk, work=crash)
    job_execute(job_id=refused.pk, work=too_few)
    job_execute(job_id=broken.pk, work=crash)
    # then the result, the domain error and a generic message are stored; the second run did nothing
    rows = {j.pk: (j.status, j.result, j.error, j.percent) for j in Job.objects.all()}
    assert rows[ok.pk] == ("succeeded", {"done": 2}, "", 100)
    assert again is not None and again.status == "succeeded"
    assert rows[refused.pk] == ("failed", {}, "Too few rows.", 0)
    assert rows[broken.pk] == (
        "failed",
        {},
        "Unexpected error (RuntimeError); the worker's log has the details.",
        0,
    )
    assert job_execute(job_id=999_999, work=work) is None


def test_a_user_sees_their_own_jobs_admins_all_others_404(django_assert_num_queries):
    # given alice's job, bob's job and an admin
    alice = UserFactory(role=Role.MARKETING, username="alice")
    bob = UserFactory(role=Role.MARKETING, username="bob")
    admin = UserFactory(role=Role.ADMIN, username="root")
    mine = job_create(kind="test.work", label="Work", by_user=alice, total=5)
    job_start(job=mine)
    job_progress(job=mine, done=2, message="Fitting")
    theirs = job_create(kind="test.other", label="Other", by_user=bob)
    as_alice, as_admin = _client(alice), _client(admin)
    # when alice reads her job (session, user, the job with its requester) and bob's, and each lists the jobs
    with django_assert_num_queries(3):
        own = as_alice.get(f"/api/jobs/{mine.pk}")
    other = as_alice.get(f"/api/jobs/{theirs.pk}")
    alice_list = as_alice.get("/api/jobs").json()["items"]
    admin_list = as_admin.get("/api/jobs").json()["items"]
    admin_kind = as_admin.get("/api/jobs?kind=test.other").json()["items"]
    # then alice gets exactly her job, bob's is a 404 like a missing one; the admin sees both
    assert own.status_code == 200
    assert own.json() == {
        "id": mine.pk,
        "kind": "test.work",
        "label": "Work",
        "status": "running",
        "progress": {"done": 2, "total": 5, "percent": 40, "message": "Fitting"},
        "requested_by": "alice",
        "created_at": _json_time(mine.created_at),
        "started_at": _json_time(mine.started_at),
        "finished_at": None,
        "result": {},
        "error": "",
        "status_url": f"/api/jobs/{mine.pk}",
    }
    assert other.status_code == 404 and other.json() == {
        "detail": "No such job.",
        "field": "job_id",
        "value": str(theirs.pk),
    }
    assert [j["id"] for j in alice_list] == [mine.pk]
    assert [j["id"] for j in admin_list] == [theirs.pk, mine.pk]
    assert [j["id"] for j in admin_kind] == [theirs.pk]
    assert as_admin.get(f"/api/jobs/{theirs.pk}").json()["requested_by"] == "bob"
    assert Client().get(f"/api/jobs/{mine.pk}").status_code == 401


def test_the_progress_fragment_polls_while_active_and_reloads_the_page_once_done():
    # given alice's running job at 40 %
    alice = UserFactory(role=Role.MARKETING, username="alice", first_name="Alice", last_name="Archer")
    job = job_create(kind="test.work", label="Training", by_user=alice, total=5)
    job_start(job=job)
    job_progress(job=job, done=2, message="Fitting the model")
    client = _client(alice)
    # when the fragment is fetched while it runs, then polled by htmx after it finished
    running = client.get(f"/jobs/{job.pk}/progress/").content.decode()
    job_finish(job=job, result={"summary": "Model v2 activated."})
    done = client.get(f"/jobs/{job.pk}/progress/", HTTP_HX_REQUEST="true")
    # then it says who started it, when, and how far, and polls itself; once done it shows the result and
    # asks htmx to reload the page around it
    assert (
        f"Training started by Alice Archer at {job.created_at:%Y-%m-%d %H:%M}, 40 %</strong>: Fitting the model."
        in running
    )
    assert f'hx-get="/jobs/{job.pk}/progress/" hx-trigger="every 2s"' in running
    assert (
        f"Training finished at {job.finished_at:%Y-%m-%d %H:%M}. Model v2 activated." in done.content.decode()
    )
    assert "hx-get" not in done.content.decode() and done["HX-Refresh"] == "true"
    # and someone else's job is a 404 page
    assert _client(UserFactory(role=Role.MARKETING)).get(f"/jobs/{job.pk}/progress/").status_code == 404
