"""Feedback pages: the capture panel on the person page, the lost-reason taxonomy, and the Themes pages."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from tandem.core.models import Event
from tandem.crm.models import Activity, Deal, LostReason
from tandem.crm.services import deal_create, lost_reason_create, lost_reason_set_active
from tandem.demo.company import question_text
from tandem.feedback.models import LeadRating, Question, Theme
from tandem.feedback.services import themes_mine
from tests.crm.factories import PersonFactory
from tests.feedback.factories import QuestionFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}
AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def rep(client):
    user = UserFactory(role="sales_rep", first_name="Rita", last_name="Rep")
    client.force_login(user)
    return user


@pytest.fixture
def marketer(client):
    user = UserFactory(role="marketing", first_name="Mia", last_name="Marketer")
    client.force_login(user)
    return user


def _mined(themes: tuple[str, ...] = ("pricing", "security"), n: int = 15) -> dict[str, Theme]:
    rnd = random.Random(5)
    truth: dict[int, str] = {}
    for i in range(n):
        for theme in themes:
            truth[
                QuestionFactory(
                    text=question_text(rnd, theme), asked_at=AT + dt.timedelta(days=7 * (i % 3))
                ).pk
            ] = theme
    themes_mine(k=len(themes))
    out = {}
    for name in themes:
        ids = list(
            Question.objects.filter(pk__in=[q for q, t in truth.items() if t == name]).values_list(
                "theme_id", flat=True
            )
        )
        out[name] = Theme.objects.get(pk=max(set(ids), key=ids.count))
    return out


# ---- the capture panel ----


def test_the_person_page_loads_the_capture_panel_lazily(client, rep):
    # given a person
    person = PersonFactory(owner=rep)
    # when the person page is opened
    body = client.get(f"/people/{person.pk}/").content.decode()
    # then it holds a placeholder that loads the panel, and the panel has the question box with its shortcut
    assert f'hx-get="/feedback/people/{person.pk}/panel/" hx-trigger="load"' in body
    panel = client.get(f"/feedback/people/{person.pk}/panel/", headers=HX).content.decode()
    assert 'id="question-text"' in panel and 'aria-keyshortcuts="q"' in panel and 'name="rating"' in panel


def test_the_panel_query_count_is_pinned(client, rep, django_assert_num_queries):
    # given a person with 8 questions, an activity and two ratings
    person = PersonFactory(owner=rep)
    for i in range(8):
        QuestionFactory(person=person, text=f"Question {i}?", product="Pro" if i % 2 else "")
    Activity.objects.create(person=person, kind_id="call", occurred_at=AT)
    LeadRating.objects.create(person=person, rating=2, rated_at=AT)
    LeadRating.objects.create(
        person=person, rating=4, reasons=["good_fit"], rated_at=AT + dt.timedelta(days=1)
    )
    # when: session, user, permissions (user, group), person, 5 questions, question count, rating, activities,
    # products
    with django_assert_num_queries(10):
        response = client.get(f"/feedback/people/{person.pk}/panel/", headers=HX)
    # then the newest rating shows with its reason's label
    body = response.content.decode()
    assert (
        "<strong>4/5</strong>" in body
        and "Good fit for what we sell" in body
        and "8 questions in all" in body
    )


def test_a_rep_records_a_question_from_the_panel(client, rep):
    # given a person and a call with them
    person = PersonFactory(owner=rep)
    call = Activity.objects.create(person=person, kind_id="call", occurred_at=AT)
    # when the rep posts a question through HTMX
    response = client.post(
        f"/feedback/people/{person.pk}/questions/",
        {"text": "Can we pay quarterly?", "product": "Pro", "is_objection": "1", "activity_id": str(call.pk)},
        headers=HX,
    )
    # then it is stored with the rep, the panel answers with it, and the box is focused for the next one
    q = Question.objects.get()
    assert (q.text, q.product, q.is_objection, q.activity_id, q.heard_by_id) == (
        "Can we pay quarterly?",
        "Pro",
        True,
        call.pk,
        rep.pk,
    )
    body = response.content.decode()
    assert response.status_code == 200 and "Saved (not yet in a theme)" in body and "autofocus" in body


def test_a_new_question_shows_its_theme_in_the_panel(client, rep):
    # given mined themes
    themes = _mined()
    person = PersonFactory(owner=rep)
    # when a rep records a security question
    response = client.post(
        f"/feedback/people/{person.pk}/questions/",
        {"text": "Are you SOC 2 Type II certified for security?"},
        headers=HX,
    )
    # then the panel names the security theme
    assert f'Saved in theme <a href="/feedback/themes/{themes["security"].pk}/">' in response.content.decode()


def test_an_empty_question_is_refused_with_422_and_nothing_is_stored(client, rep):
    # given a person
    person = PersonFactory(owner=rep)
    # when an empty question is posted
    response = client.post(f"/feedback/people/{person.pk}/questions/", {"text": "   "}, headers=HX)
    # then the panel shows why and nothing is stored
    assert response.status_code == 422 and "text must not be empty" in response.content.decode()
    assert Question.objects.count() == 0


def test_a_viewer_cannot_record_questions(client):
    # given a viewer
    client.force_login(UserFactory(role="viewer"))
    person = PersonFactory()
    # when they post a question
    response = client.post(f"/feedback/people/{person.pk}/questions/", {"text": "Hi?"}, headers=HX)
    # then it is forbidden and nothing is stored
    assert response.status_code == 403 and Question.objects.count() == 0


def test_a_rep_rates_a_lead(client, rep):
    # given a person
    person = PersonFactory(owner=rep)
    # when the rep rates the lead 2 for no budget
    response = client.post(
        f"/feedback/people/{person.pk}/ratings/",
        {"rating": "2", "reasons": ["no_budget"], "note": "next year"},
        headers=HX,
    )
    # then the rating is stored and shown
    row = LeadRating.objects.get()
    assert (row.rating, row.reasons, row.note, row.rated_by_id) == (2, ["no_budget"], "next year", rep.pk)
    assert "<strong>2/5</strong>" in response.content.decode()


def test_a_rating_without_a_number_is_refused(client, rep):
    # given a person
    person = PersonFactory(owner=rep)
    # when the form is sent without a rating
    response = client.post(f"/feedback/people/{person.pk}/ratings/", {"reasons": ["no_budget"]}, headers=HX)
    # then it is refused naming the rating
    assert response.status_code == 422 and "choose a rating from 1 to 5" in response.content.decode()
    assert LeadRating.objects.count() == 0


# ---- lost reasons ----


def test_a_manager_adds_renames_and_retires_lost_reasons(client):
    # given a sales manager
    client.force_login(UserFactory(role="sales_manager"))
    # when they add, rename and retire a reason
    client.post("/people/lost-reasons/", {"name": "No budget", "description": "Could not pay"})
    reason = LostReason.objects.get()
    client.post(f"/people/lost-reasons/{reason.pk}/", {"action": "rename", "name": "No budget this year"})
    page = client.post(f"/people/lost-reasons/{reason.pk}/", {"action": "retire"}, follow=True)
    # then the page lists it retired under its new name
    reason.refresh_from_db()
    assert (reason.name, reason.is_active) == ("No budget this year", False)
    assert "retired" in page.content.decode() and "No budget this year" in page.content.decode()


def test_a_rep_cannot_change_the_taxonomy(client, rep):
    # given a reason
    reason = lost_reason_create(name="Timing")
    # when a rep tries to add and to retire
    added = client.post("/people/lost-reasons/", {"name": "Other"})
    retired = client.post(f"/people/lost-reasons/{reason.pk}/", {"action": "retire"})
    # then both are forbidden and nothing changed
    assert (added.status_code, retired.status_code) == (403, 403)
    assert list(LostReason.objects.values_list("name", "is_active")) == [("Timing", True)]


def test_the_deal_lost_select_offers_only_active_reasons_and_closes_by_id(client, rep):
    # given an open deal, one active and one retired reason
    person = PersonFactory(owner=rep)
    deal = deal_create(person=person, amount=1000, name="Pilot", owner=rep)
    active = lost_reason_create(name="Went with a competitor")
    retired = lost_reason_create(name="Old reason")
    lost_reason_set_active(reason=retired, active=False)
    # when the options are loaded and the deal is closed with the retired one, then the active one
    options = client.get("/people/lost-reasons/options/", headers=HX).content.decode()
    page = client.get(f"/people/{person.pk}/").content.decode()
    refused = client.post(
        f"/people/deals/{deal.pk}/close/", {"outcome": "lost", "lost_reason_id": str(retired.pk)}, follow=True
    )
    deal.refresh_from_db()
    assert deal.stage == "open" and f"lost reason {retired.pk} is retired" in refused.content.decode()
    client.post(f"/people/deals/{deal.pk}/close/", {"outcome": "lost", "lost_reason_id": str(active.pk)})
    # then only the active reason is offered and the deal is lost with it
    assert "Went with a competitor" in options and "Old reason" not in options
    assert 'name="lost_reason_id"' in page and 'hx-get="/people/lost-reasons/options/"' in page
    deal = Deal.objects.get(pk=deal.pk)
    assert (deal.stage, deal.lost_reason_id) == ("lost", active.pk)


# ---- themes ----


def test_the_themes_page_shows_chart_and_table_with_a_pinned_query_count(
    client, marketer, django_assert_num_queries
):
    # given two mined themes, one person with a lost deal
    themes = _mined()
    person = Question.objects.filter(theme=themes["pricing"]).first().person
    deal = deal_create(person=person, amount=10, name="Lost one")
    Deal.objects.filter(pk=deal.pk).update(stage="lost", closed_at=AT)
    # when: session, user, permissions (user, group), themes, questions with lost flags, any theme, mining job
    with django_assert_num_queries(8):
        response = client.get("/feedback/themes/")
    # then both themes are listed with their counts, the chart's figure is embedded
    body = response.content.decode()
    assert response.status_code == 200 and 'data-chart="themes-trend"' in body
    for theme in themes.values():
        assert f'data-theme-id="{theme.pk}"' in body and theme.label in body


def test_a_marketer_renames_merges_and_splits_from_the_theme_page(client, marketer):
    # given two mined themes
    themes = _mined()
    pricing, security = themes["pricing"], themes["security"]
    # when the marketer renames pricing, merges security into it, then splits it again
    client.post(f"/feedback/themes/{pricing.pk}/rename/", {"label": "Pricing objections"})
    merged = client.post(f"/feedback/themes/{security.pk}/merge/", {"into_id": str(pricing.pk)}, follow=True)
    split = client.post(f"/feedback/themes/{pricing.pk}/split/", {"k": "2"}, follow=True)
    # then each step shows and is recorded
    assert "Pricing objections" in merged.content.decode()
    assert "Split into" in split.content.decode()
    assert [
        e.kind
        for e in Event.objects.filter(kind__in=["theme.renamed", "theme.merged", "theme.split"]).order_by(
            "id"
        )
    ] == [
        "theme.renamed",
        "theme.merged",
        "theme.split",
    ]
    assert Theme.objects.filter(retired_at__isnull=True).count() == 2


def test_a_rep_cannot_rename_themes(client, rep):
    # given mined themes
    themes = _mined()
    label = themes["pricing"].label
    # when a rep posts a rename
    response = client.post(f"/feedback/themes/{themes['pricing'].pk}/rename/", {"label": "Mine"})
    # then it is forbidden and the label is unchanged
    assert response.status_code == 403 and Theme.objects.get(pk=themes["pricing"].pk).label == label


def test_a_marketer_mines_themes_from_the_page(client, marketer, django_capture_on_commit_callbacks):
    # given 30 questions and no themes, and a worker that runs tasks as they are queued
    from huey.contrib.djhuey import HUEY

    rnd = random.Random(1)
    for theme in ("pricing", "security", "integrations") * 10:
        QuestionFactory(text=question_text(rnd, theme))
    HUEY.immediate = True
    try:
        # when the marketer presses the button (the mining job runs once its row is committed) and is sent back
        with django_capture_on_commit_callbacks(execute=True):
            pressed = client.post("/feedback/themes/mine/")
    finally:
        HUEY.immediate = False
    body = client.get(pressed["Location"]).content.decode()
    # then themes exist and the page says what the job did
    assert "Theme mining finished at" in body and "Grouped 30 questions" in body and Theme.objects.exists()


def test_the_themes_page_follows_a_running_mining(client, marketer):
    # given a mining job started by the marketer, half done
    from tandem.core.jobs.services import job_create, job_progress, job_start
    from tandem.feedback.services import MINE_JOB, MINE_STEPS

    job = job_create(kind=MINE_JOB, label="Theme mining", by_user=marketer, exclusive=True, total=MINE_STEPS)
    job_start(job=job)
    job_progress(job=job, done=2, message="Placing the questions in themes")
    # when the page is opened and its fragment polled
    body = client.get("/feedback/themes/").content.decode()
    poll = client.get(f"/feedback/themes/mining/{job.pk}/", HTTP_HX_REQUEST="true")
    # then both show the progress, the page polls the fragment, and the button waits
    started = f"Theme mining started by {marketer.get_full_name()} at {job.created_at:%Y-%m-%d %H:%M}, 50 %"
    assert started in body and f'hx-get="/feedback/themes/mining/{job.pk}/"' in body
    assert started in poll.content.decode() and "HX-Refresh" not in poll
    assert 'title="Group all questions again; named, merged and split themes are kept" disabled' in body


def test_the_panel_preselects_the_call_going_on(client, rep):
    # given a call logged ten minutes ago and one from last week
    from django.utils import timezone

    person = PersonFactory(owner=rep)
    Activity.objects.create(person=person, kind_id="call", occurred_at=timezone.now() - dt.timedelta(days=7))
    now_call = Activity.objects.create(
        person=person, kind_id="call", occurred_at=timezone.now() - dt.timedelta(minutes=10)
    )
    # when the panel loads
    body = client.get(f"/feedback/people/{person.pk}/panel/", headers=HX).content.decode()
    # then the recent call is chosen, so a question typed now is tied to it
    assert f'<option value="{now_call.pk}" selected>' in body
    assert body.count(" selected>") == 1


def test_the_theme_page_query_count_is_pinned(client, marketer, django_assert_num_queries):
    # given mined themes
    themes = _mined()
    # when: session, user, permissions (user, group), theme, its questions with people and reps, live themes
    with django_assert_num_queries(7):
        response = client.get(f"/feedback/themes/{themes['pricing'].pk}/")
    # then its questions are listed
    assert response.status_code == 200
    assert response.content.decode().count('<tr><td class="nowrap">') == themes["pricing"].question_count


def test_the_lost_reasons_page_query_count_is_pinned(client, django_assert_num_queries):
    # given a manager and five reasons
    client.force_login(UserFactory(role="sales_manager"))
    for name in ("A", "B", "C", "D", "E"):
        lost_reason_create(name=name)
    # when: session, user, permissions (user, group), reasons with deal counts
    with django_assert_num_queries(5):
        response = client.get("/people/lost-reasons/")
    # then all five are listed
    assert response.content.decode().count('class="cell-main"') == 5
