"""Training runs in the background: the API answers 202 with a status URL, the job reports its progress, a second
training is refused while one is active, the model page follows it, and the CLI records a job too."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from huey.contrib.djhuey import HUEY

from tandem.core.jobs.services import job_create, job_finish, job_progress, job_start
from tandem.core.models import Job, PendingTask
from tandem.demo.company import generate_company
from tandem.demo.services import demo_load
from tandem.scoring import services as scoring_services
from tandem.scoring.model import TrainConfig
from tandem.scoring.models import ModelStatus, PersonScore, ScoringModel
from tandem.scoring.services import TRAIN_JOB, TRAIN_STEPS
from tandem.users.models import Role
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
END = dt.date(2026, 6, 30)


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _training(by_user, done: int = 2) -> Job:  # type: ignore[no-untyped-def]
    """A training job as the worker leaves it mid-way: running, `done` of its steps."""
    job = job_create(kind=TRAIN_JOB, label="Training", by_user=by_user, exclusive=True, total=TRAIN_STEPS)
    job_start(job=job)
    job_progress(job=job, done=done, message="Measuring what the model relies on")
    return job


def test_train_answers_202_with_a_status_url_and_the_job_runs_to_succeeded(
    monkeypatch, django_capture_on_commit_callbacks
):
    # given a small company with closed outcomes, an admin, and a worker that runs tasks where they are queued
    demo_load(company=generate_company(people=800, seed=7, end=END))
    monkeypatch.setattr(scoring_services, "TrainConfig", lambda: TrainConfig(candidates=("logistic",)))
    monkeypatch.setattr(HUEY, "immediate", True)
    client = _client(UserFactory(role=Role.ADMIN, username="ada"))
    # (the demo's own queued work, such as its audiences' first sync, waits in the outbox: not this test's)
    waiting = sorted(PendingTask.objects.values_list("id", flat=True))
    # when the admin asks for training (the job runs once its row is committed)
    with django_capture_on_commit_callbacks(execute=True):
        accepted = client.post("/api/scoring/train", {"horizon_days": 90}, content_type="application/json")
    # then the answer is 202 naming the job and its status URL, also in Location
    job = Job.objects.get()
    assert accepted.status_code == 202
    assert accepted.json() == {"job_id": job.pk, "status_url": f"/api/jobs/{job.pk}"}
    assert accepted["Location"] == f"/api/jobs/{job.pk}"
    # when the status URL is read
    status = client.get(accepted.json()["status_url"]).json()
    # then the job ran every step to succeeded, and its result names the model it stored
    row = ScoringModel.objects.get()
    assert (status["status"], status["requested_by"], status["error"]) == ("succeeded", "ada", "")
    assert status["progress"] == {
        "done": TRAIN_STEPS,
        "total": TRAIN_STEPS,
        "percent": 100,
        "message": "Rescoring open leads",
    }
    assert status["result"]["model_version"] == row.version and status["result"]["model_status"] == row.status
    assert (
        row.status == ModelStatus.ACTIVE and row.trained_by is not None and row.trained_by.username == "ada"
    )
    assert status["result"]["rescored"] == PersonScore.objects.count() > 0
    assert status["result"]["summary"].startswith(
        f"Model {row.version} (logistic) activated, validation AUC "
    )
    assert sorted(PendingTask.objects.values_list("id", flat=True)) == waiting


def test_a_second_training_is_refused_with_409_naming_the_running_job():
    # given a training running, started by one admin
    first_admin = UserFactory(role=Role.ADMIN, username="ada")
    running = _training(first_admin)
    client = _client(UserFactory(role=Role.ADMIN))
    # when another admin asks for training
    response = client.post("/api/scoring/train", {"horizon_days": 90}, content_type="application/json")
    # then it is refused naming the running job, and nothing was queued
    assert response.status_code == 409
    assert response.json() == {
        "detail": f"Training is already running (job {running.pk}, started by ada at "
        f"{running.created_at:%Y-%m-%d %H:%M} UTC); wait for it to finish.",
        "field": "job",
        "value": str(running.pk),
    }
    assert list(Job.objects.values_list("pk", flat=True)) == [running.pk] and not PendingTask.objects.exists()


def test_train_refuses_other_roles_and_a_bad_horizon_before_any_job():
    # given a marketer and an admin
    marketing = _client(UserFactory(role=Role.MARKETING))
    admin = _client(UserFactory(role=Role.ADMIN))
    # when they ask for training
    refused = marketing.post("/api/scoring/train", {"horizon_days": 90}, content_type="application/json")
    bad = admin.post("/api/scoring/train", {"horizon_days": 0}, content_type="application/json")
    # then marketing is forbidden, the bad horizon is a 422 naming it, and no job exists
    assert refused.status_code == 403
    assert bad.status_code == 422 and bad.json()["field"] == "horizon_days"
    assert not Job.objects.exists()


def test_the_model_page_shows_the_training_in_progress_instead_of_no_model(django_assert_num_queries):
    # given no model yet and a training at 40 %, started by Ada Admin
    ada = UserFactory(role=Role.ADMIN, username="ada", first_name="Ada", last_name="Admin")
    job = _training(ada, done=2)
    marketing = _client(UserFactory(role=Role.MARKETING))
    # when marketing opens the page (session, user, the model to report (two), the training job, versions)
    with django_assert_num_queries(6):
        response = marketing.get("/scoring/")
    body = response.content.decode()
    # then it says who started it, when, and how far, polls its progress, and no longer says no model was trained
    started = f"Training started by Ada Admin at {job.created_at:%Y-%m-%d %H:%M}, 40 %"
    assert started in body and f'hx-get="/scoring/training/{job.pk}/" hx-trigger="every 2s"' in body
    assert "No model has been trained yet" not in body
    # and marketing sees no Train button; the admin sees it disabled while the job runs
    assert 'data-testid="train-form"' not in body
    assert 'disabled title="A training is already running"' in _client(ada).get("/scoring/").content.decode()


def test_the_training_fragment_follows_the_job_for_page_viewers_only():
    # given a running training
    job = _training(UserFactory(role=Role.ADMIN, username="ada", first_name="Ada", last_name="Admin"), done=2)
    manager = _client(UserFactory(role=Role.SALES_MANAGER))
    # when a sales manager polls it, it finishes, and they poll again; a rep tries too
    running = manager.get(f"/scoring/training/{job.pk}/", HTTP_HX_REQUEST="true")
    job_finish(job=job, result={"summary": "Model v1 (logistic) activated."})
    finished = manager.get(f"/scoring/training/{job.pk}/", HTTP_HX_REQUEST="true")
    rep = _client(UserFactory(role=Role.SALES_REP)).get(f"/scoring/training/{job.pk}/")
    # then the manager sees 40 % then the result with a reload; the rep is refused; another kind is a 404
    assert "Training started by Ada Admin" in running.content.decode() and "HX-Refresh" not in running
    assert "Model v1 (logistic) activated." in finished.content.decode() and finished["HX-Refresh"] == "true"
    assert rep.status_code == 403
    other = job_create(kind="feedback.themes_mine", label="Theme mining")
    assert manager.get(f"/scoring/training/{other.pk}/").status_code == 404


def test_the_train_button_starts_a_job_and_a_second_press_is_told_why_not():
    # given an admin on the model page with no model
    admin = _client(UserFactory(role=Role.ADMIN))
    assert "No model has been trained yet" in admin.get("/scoring/").content.decode()
    # when Train is pressed twice
    first = admin.post("/scoring/train/", follow=True)
    second = admin.post("/scoring/train/", follow=True)
    # then one training is queued, the page follows it, and the second press says it is already queued
    job = Job.objects.get()
    assert (job.kind, job.status, job.params) == (
        TRAIN_JOB,
        "queued",
        {"horizon_days": 90.0, "refresh": True},
    )
    assert "Training started; this page follows it." in first.content.decode()
    assert "waiting for the background worker" in first.content.decode()
    assert f"Training is already queued (job {job.pk}," in second.content.decode()
    assert PendingTask.objects.count() == 1
    # and only admins may press it
    assert _client(UserFactory(role=Role.MARKETING)).post("/scoring/train/").status_code == 403


def test_the_cli_trains_in_the_terminal_and_records_the_job():
    # given too few people for a model
    out = io.StringIO()
    # when `tandem score train` runs
    with pytest.raises(CommandError) as failed:
        call_command("score", "train", stdout=out)
    # then it fails saying why, and the job it recorded says the same
    job = Job.objects.get()
    assert (job.kind, job.status, job.requested_by) == (TRAIN_JOB, "failed", None)
    assert job.error == "Too few people with a known outcome to train a model."
    assert (
        str(failed.value)
        == f"Training failed (job {job.pk}): Too few people with a known outcome to train a model."
    )


def test_the_cli_is_refused_while_a_training_runs():
    # given a training running from the page
    running = _training(UserFactory(role=Role.ADMIN, username="ada"))
    # when the operator runs `tandem score train`
    with pytest.raises(
        CommandError, match=f"Training is already running \\(job {running.pk}, started by ada"
    ):
        call_command("score", "train", stdout=io.StringIO())
    # then nothing else was recorded
    assert Job.objects.count() == 1
