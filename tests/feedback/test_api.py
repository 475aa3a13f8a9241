"""Feedback REST endpoints and `tandem report themes`: the same services as the pages, 4xx naming the field."""

from __future__ import annotations

import datetime as dt
import io
import json
import random

import pytest
from django.core.management import call_command

from tandem.crm.models import Activity, LostReason
from tandem.demo.company import question_text
from tandem.feedback.models import LeadRating, Question, Theme
from tandem.feedback.services import themes_mine
from tests.crm.factories import PersonFactory
from tests.feedback.factories import QuestionFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def rep(client):
    user = UserFactory(role="sales_rep")
    client.force_login(user)
    return user


@pytest.fixture
def marketer(client):
    user = UserFactory(role="marketing")
    client.force_login(user)
    return user


@pytest.fixture
def mine(client, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """POST /api/themes/mine with the job run where it is queued (Huey immediate); the finished job's result."""
    from huey.contrib.djhuey import HUEY

    def run(k: int) -> dict:  # type: ignore[type-arg]
        before = HUEY.immediate
        HUEY.immediate = True
        try:
            with django_capture_on_commit_callbacks(execute=True):
                accepted = client.post("/api/themes/mine", {"k": k}, content_type="application/json")
        finally:
            HUEY.immediate = before
        assert accepted.status_code == 202 and accepted["Location"] == accepted.json()["status_url"]
        job = client.get(accepted.json()["status_url"]).json()
        assert job["status"] == "succeeded", job
        return job["result"]

    return run


def _seed(n: int = 12) -> None:
    rnd = random.Random(9)
    for i in range(n):
        for theme in ("pricing", "security"):
            QuestionFactory(text=question_text(rnd, theme), asked_at=AT + dt.timedelta(days=i))


def test_a_question_is_recorded_and_listed_through_the_api(client, rep):
    # given the rep's person and a call
    person = PersonFactory(owner=rep)
    call = Activity.objects.create(person=person, kind_id="call", occurred_at=AT)
    # when a question is posted and the person's questions are listed
    created = client.post(
        f"/api/people/{person.pk}/questions",
        {
            "text": "Do you integrate with Slack?",
            "product": "Pro",
            "activity_id": call.pk,
            "is_objection": False,
        },
        content_type="application/json",
    )
    listed = client.get(f"/api/people/{person.pk}/questions")
    # then it is stored with the rep and listed without a theme yet
    assert created.status_code == 201
    body = created.json()
    assert (body["text"], body["product"], body["activity_id"], body["heard_by_id"], body["theme"]) == (
        "Do you integrate with Slack?",
        "Pro",
        call.pk,
        rep.pk,
        None,
    )
    assert [q["id"] for q in listed.json()["items"]] == [body["id"]]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": "ok", "activity_id": 999999}, "activity_id"),
    ],
)
def test_a_bad_question_is_a_4xx_naming_the_field(client, rep, payload, field):
    # given a person
    person = PersonFactory(owner=rep)
    # when a bad question is posted
    response = client.post(f"/api/people/{person.pk}/questions", payload, content_type="application/json")
    # then the answer names the field and nothing is stored
    assert response.status_code in (404, 422) and field in json.dumps(response.json())
    assert Question.objects.count() == 0


def test_a_rating_is_recorded_and_a_bad_code_refused(client, rep):
    # given a person
    person = PersonFactory(owner=rep)
    # when a rating is posted, then one with an unknown code
    ok = client.post(
        f"/api/people/{person.pk}/ratings",
        {"rating": 5, "reasons": ["ready_to_buy"]},
        content_type="application/json",
    )
    bad = client.post(
        f"/api/people/{person.pk}/ratings",
        {"rating": 3, "reasons": ["shiny"]},
        content_type="application/json",
    )
    # then the first is stored and the second refused naming reasons
    assert ok.status_code == 201 and ok.json()["reasons"] == ["ready_to_buy"]
    assert bad.status_code == 422 and bad.json()["field"] == "reasons" and bad.json()["value"] == "shiny"
    assert list(LeadRating.objects.values_list("rating", flat=True)) == [5]
    assert client.get(f"/api/people/{person.pk}/ratings").json()["items"][0]["rating"] == 5


def test_lost_reasons_through_the_api_for_a_manager_and_not_for_a_rep(client):
    # given a manager
    client.force_login(UserFactory(role="sales_manager"))
    # when they add, rename and retire a reason
    created = client.post("/api/lost-reasons", {"name": "Timing"}, content_type="application/json")
    reason_id = created.json()["id"]
    changed = client.patch(
        f"/api/lost-reasons/{reason_id}",
        {"name": "Bad timing", "is_active": False},
        content_type="application/json",
    )
    duplicate = client.post("/api/lost-reasons", {"name": "BAD TIMING"}, content_type="application/json")
    # then the reason is renamed and retired, the duplicate refused
    assert created.status_code == 201 and changed.json() == {
        "id": reason_id,
        "name": "Bad timing",
        "description": "",
        "is_active": False,
    }
    assert duplicate.status_code == 422 and duplicate.json()["field"] == "name"
    assert client.get("/api/lost-reasons").json() == []
    # when a rep tries to add one
    client.force_login(UserFactory(role="sales_rep"))
    refused = client.post("/api/lost-reasons", {"name": "Other"}, content_type="application/json")
    # then it is forbidden
    assert refused.status_code == 403 and LostReason.objects.count() == 1


def test_themes_are_mined_renamed_merged_and_split_through_the_api(client, marketer, mine):
    # given 24 questions
    _seed()
    # when themes are mined into two (a background job), one renamed, merged into the other, and split again
    mined = mine(2)
    first, second = mined["created"]
    renamed = client.post(
        f"/api/themes/{first}/rename", {"label": "Money talk"}, content_type="application/json"
    )
    merged = client.post(f"/api/themes/{second}/merge", {"into_id": first}, content_type="application/json")
    split = client.post(f"/api/themes/{first}/split", {"k": 2}, content_type="application/json")
    # then each answer describes the result
    assert mined["questions"] == mined["assigned"] == 24
    assert renamed.json()["label"] == "Money talk" and renamed.json()["renamed"]
    assert merged.json()["id"] == first and merged.json()["question_count"] == 24
    assert [t["split_from_id"] for t in split.json()] == [first, first]
    assert sum(t["question_count"] for t in split.json()) == 24
    assert client.get(f"/api/themes/{second}").json()["merged_into_id"] == first
    assert sorted(t["id"] for t in client.get("/api/themes").json()) == sorted(t["id"] for t in split.json())


def test_a_retired_theme_cannot_be_merged_into(client, marketer, mine):
    # given a theme merged away
    _seed()
    first, second = mine(2)["created"]
    client.post(f"/api/themes/{second}/merge", {"into_id": first}, content_type="application/json")
    # when the live theme is merged into the retired one
    response = client.post(f"/api/themes/{first}/merge", {"into_id": second}, content_type="application/json")
    # then it is refused and nothing moved
    assert response.status_code == 409 and response.json()["field"] == "theme_id"
    assert Question.objects.filter(theme_id=first).count() == 24


def test_a_rep_cannot_mine_themes(client, rep):
    # given questions
    _seed()
    # when a rep asks for mining
    response = client.post("/api/themes/mine", {}, content_type="application/json")
    # then it is forbidden and no theme exists
    assert response.status_code == 403 and Theme.objects.count() == 0


def test_a_second_mining_is_refused_while_one_is_queued(client, marketer):
    # given questions and a mining job queued (not yet run by the worker)
    from tandem.core.models import Job, PendingTask

    _seed()
    first = client.post("/api/themes/mine", {}, content_type="application/json")
    # when another is asked for
    second = client.post("/api/themes/mine", {"k": 3}, content_type="application/json")
    # then the first was accepted with its status URL, the second refused naming the queued job, nothing added
    job = Job.objects.get()
    assert first.status_code == 202 and first.json() == {"job_id": job.pk, "status_url": f"/api/jobs/{job.pk}"}
    assert second.status_code == 409
    assert second.json() == {
        "detail": f"Theme mining is already queued (job {job.pk}, started by {marketer.username} at "
        f"{job.created_at:%Y-%m-%d %H:%M} UTC); wait for it to finish.",
        "field": "job",
        "value": str(job.pk),
    }
    assert Job.objects.count() == 1 and PendingTask.objects.count() == 1 and Theme.objects.count() == 0


def test_mining_too_few_questions_is_refused_before_any_job(client, marketer):
    # given two questions
    QuestionFactory(text="How much is it?")
    QuestionFactory(text="Is it secure?")
    # when mining is asked for
    response = client.post("/api/themes/mine", {}, content_type="application/json")
    # then it is a 422 naming the count, and no job was queued
    from tandem.core.models import Job

    assert response.status_code == 422 and response.json()["field"] == "questions" and response.json()["value"] == "2"
    assert not Job.objects.exists()


def test_the_themes_report_has_exactly_the_documented_shape(client, marketer):
    # given mined themes and a question from before the cut-off
    _seed()
    themes_mine(k=2)
    person = PersonFactory(email="early@acme.example")
    QuestionFactory(person=person, text="Is there a discount?", asked_at=AT - dt.timedelta(days=30))
    # when the report is run from the CLI with --since, and through the API
    out = io.StringIO()
    call_command("report", "themes", "--since", "2026-03-01", "--format", "json", stdout=out)
    report = json.loads(out.getvalue())
    api = client.get("/api/themes/report?since=2026-03-01").json()
    # then it has exactly themes (id, label, count, examples) and assignments (email, asked_at, text, theme_id)
    assert report == api and set(report) == {"themes", "assignments"}
    assert all(set(t) == {"id", "label", "count", "examples"} for t in report["themes"])
    assert all(set(a) == {"email", "asked_at", "text", "theme_id"} for a in report["assignments"])
    assert len(report["assignments"]) == 24 and "early@acme.example" not in out.getvalue()
    assert sum(t["count"] for t in report["themes"]) == 24
    first = Question.objects.filter(asked_at__gte=AT).order_by("asked_at", "id").first()
    assert report["assignments"][0] == {
        "email": first.person.email,
        "asked_at": first.asked_at.isoformat(),
        "text": first.text,
        "theme_id": first.theme_id,
    }
    assert [t["id"] for t in report["themes"]] == list(
        Theme.objects.filter(retired_at__isnull=True)
        .order_by("-question_count", "id")
        .values_list("id", flat=True)
    )


def test_the_themes_report_table(marketer):
    # given mined themes
    _seed()
    themes_mine(k=2)
    # when the table is asked for
    out = io.StringIO()
    call_command("report", "themes", "--format", "table", stdout=out)
    # then it lists both themes and the totals
    assert out.getvalue().endswith("24 questions, 0 in no theme\n") and out.getvalue().count("“") >= 2


def test_the_overview_gives_trend_and_lost_share_with_interval(client, marketer):
    # given mined themes, where the people asking the first three questions lost a deal
    _seed(n=10)
    themes_mine(k=2)
    from tests.crm.factories import DealFactory

    for q in Question.objects.order_by("id")[:3]:
        DealFactory(person=q.person, stage="lost", closed_at=AT, amount=1)
    # when the overview is read
    body = client.get("/api/themes/overview").json()
    # then every theme has a weekly trend adding up to its count, and lost shares with intervals
    assert body["questions"] == 20 and body["weeks"] == ["2026-03-02", "2026-03-09"]
    assert sum(t["lost"] for t in body["themes"]) == 3
    for t in body["themes"]:
        assert sum(t["trend"]) == t["count"]
        assert t["lost_low"] <= t["lost_share"] <= t["lost_high"]
