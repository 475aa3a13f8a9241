"""The form builder, the hosted form page, the snippet, the journal pages and `tandem capture`."""

from __future__ import annotations

import html
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.capture.models import Form, Submission
from tandem.crm.models import Person
from tandem.users.models import Role
from tests.capture.factories import make_form
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _signed_in(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


def _builder_post(**overrides: str) -> dict[str, str]:
    data = {
        "name": "Pricing request",
        "campaign": "",
        "touchpoint_kind": "demo_request",
        "submit_label": "Get pricing",
        "thank_you_message": "Thanks, we will call you.",
        "redirect_url": "",
        "rate_limit_per_minute": "60",
        "is_active": "on",
        "rows": "4",
        "f-0-name": "email", "f-0-label": "Email", "f-0-type": "email", "f-0-required": "on",
        "f-1-name": "first_name", "f-1-label": "First name", "f-1-type": "text",
        "f-2-name": "seats", "f-2-label": "Seats", "f-2-type": "select", "f-2-choices": "1-10, 11-50, 51+",
        "f-3-name": "", "f-3-label": "", "f-3-type": "text",
    }
    data.update(overrides)
    return data


def test_marketing_builds_a_form_in_the_builder_and_sees_its_snippet():
    # given a marketer and a campaign
    client = _signed_in(Role.MARKETING)
    campaign = Campaign.objects.create(name="Pricing page", channel="content")
    # when the builder is opened and submitted
    assert client.get("/forms/new/").status_code == 200
    response = client.post("/forms/new/", _builder_post(campaign=str(campaign.pk)))
    # then the form exists with its fields (the blank row dropped) and its page shows the snippet
    form = Form.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/forms/{form.pk}/"
    assert [f["name"] for f in form.fields] == ["email", "first_name", "seats"]
    assert form.fields[2]["choices"] == ["1-10", "11-50", "51+"]
    assert (form.campaign_id, form.touchpoint_kind, form.slug) == (campaign.pk, "demo_request", "pricing-request")
    page = client.get(f"/forms/{form.pk}/").content.decode()
    snippet = html.unescape(page.split('id="snippet"')[1].split(">", 1)[1].split("</textarea>")[0])
    assert f'<form action="http://testserver/f/{form.public_key}/" method="post"' in snippet
    assert 'name="hp_website"' in snippet and 'name="utm_campaign"' in snippet
    assert "<script src" not in snippet


def test_the_builder_names_the_bad_row_and_keeps_nothing():
    # given a marketer
    client = _signed_in(Role.MARKETING)
    # when a field name is invalid
    response = client.post("/forms/new/", _builder_post(**{"f-1-name": "First Name"}))
    # then the page answers 422 naming the row's field, and no form is created
    assert response.status_code == 422
    assert "fields[1].name" in response.content.decode() or "First Name" in response.content.decode()
    assert Form.objects.count() == 0


def test_editing_a_form_keeps_its_key_and_can_close_it():
    # given a form
    client = _signed_in(Role.MARKETING)
    form = make_form()
    key = form.public_key
    # when it is edited and unticked "accepting submissions"
    data = _builder_post(name="Renamed")
    data.pop("is_active")
    response = client.post(f"/forms/{form.pk}/edit/", data)
    # then the name changed, the key stayed, and it is closed
    form.refresh_from_db()
    assert response.status_code == 302
    assert (form.name, form.public_key, form.is_active) == ("Renamed", key, False)


def test_reps_cannot_build_forms():
    # given a sales rep
    client = _signed_in(Role.SALES_REP)
    # when they open the builder, then it is refused and nothing is made
    assert client.get("/forms/new/").status_code == 403
    assert client.post("/forms/new/", _builder_post()).status_code == 403
    assert Form.objects.count() == 0


def test_the_hosted_page_carries_the_visit_utm_tags_and_a_submission_id():
    # given a form
    form = make_form()
    # when a visitor opens its page from an ad
    page = Client().get(f"/f/{form.public_key}/?utm_source=google&utm_campaign=brand", HTTP_REFERER="https://www.google.com/")
    # then the hidden fields hold the tags, the referrer and a fresh submission id
    text = page.content.decode()
    assert page.status_code == 200
    assert 'name="utm_source" value="google"' in text and 'name="utm_campaign" value="brand"' in text
    assert 'name="referrer" value="https://www.google.com/"' in text
    assert 'name="submission_id" value="' in text


def test_posting_the_hosted_form_creates_the_person_and_shows_the_thank_you_page():
    # given a form with a thank-you message
    form = make_form(thank_you_message="Merci!")
    client = Client()
    # when the browser posts it (no CSRF token: it may come from any website)
    response = client.post(
        f"/f/{form.public_key}/",
        {"email": "ann@example.com", "first_name": "Ann", "consent_email": "1", "utm_campaign": "brand", "submission_id": "s-1"},
        follow=True,
    )
    # then the person and touchpoint exist, and the thank-you message shows
    assert response.status_code == 200
    assert b"Merci!" in response.content
    person = Person.objects.get()
    assert (person.first_name, person.consent_email) == ("Ann", True)
    assert Touchpoint.objects.get().utm_campaign == "brand"
    assert Submission.objects.get().source == "form"


def test_a_form_with_a_redirect_sends_the_browser_there():
    # given a form that redirects
    form = make_form(redirect_url="https://www.example.com/thanks")
    # when it is posted
    response = Client().post(f"/f/{form.public_key}/", {"email": "r@example.com"})
    # then the browser goes to that page
    assert response.status_code == 302 and response["Location"] == "https://www.example.com/thanks"


def test_a_refused_hosted_post_shows_the_form_again_with_the_error_at_the_field():
    # given a form
    form = make_form()
    # when the email is malformed
    response = Client().post(
        f"/f/{form.public_key}/", {"email": "ann(at)example.com", "first_name": "Ann", "submission_id": "s-1"}
    )
    # then the page comes back 422 with the message at the email field, and the typed values kept
    text = response.content.decode()
    assert response.status_code == 422
    assert 'id="err-email"' in text and "is not a valid email address" in text
    assert '"first_name": "Ann"' in text
    assert 'name="submission_id" value="s-1"' not in text
    assert Person.objects.count() == 0
    assert Submission.objects.get().status == "rejected"


def test_an_unknown_hosted_form_is_a_404():
    # given no such form, when its page is opened or posted, then 404
    assert Client().get("/f/f_missing/").status_code == 404
    assert Client().post("/f/f_missing/", {"email": "x@example.com"}).status_code == 404


def test_the_journal_lists_rows_by_status_and_replays_a_failed_one():
    # given one processed and one failed row
    form = make_form()
    Client().post(f"/api/capture/forms/{form.public_key}/submissions", data=json.dumps({"email": "ok@example.com"}), content_type="application/json")
    failed = Submission.objects.create(
        received_at=Submission.objects.get().received_at, source="form_json", form=form, key=form.public_key,
        content_type="application/json", payload=json.dumps({"email": "late@example.com"}), status="failed",
        error="OperationalError: database is locked",
    )
    admin = _signed_in(Role.ADMIN)
    # when the admin filters failed rows and replays it
    listing = admin.get("/journal/?status=failed").content.decode()
    replay = admin.post(f"/journal/{failed.pk}/replay/")
    # then the list showed only the failed row, and after replay it is processed
    assert "database is locked" in listing and "ok@example.com" not in listing
    assert replay.status_code == 302
    failed.refresh_from_db()
    assert failed.status == "processed"
    assert Person.objects.filter(email="late@example.com").exists()


def test_reps_do_not_see_the_journal():
    # given a rep, when they open the journal, then it is refused
    assert _signed_in(Role.SALES_REP).get("/journal/").status_code == 403


def test_tandem_capture_replay_processes_failed_rows_and_reports_the_rest():
    # given a failed row that will work and one whose form is gone
    form = make_form()
    good = Submission.objects.create(
        received_at="2026-11-20T10:00:00Z", source="form_json", form=form, key=form.public_key,
        content_type="application/json", payload='{"email": "cli@example.com"}', status="failed",
    )
    bad = Submission.objects.create(
        received_at="2026-11-20T10:00:00Z", source="form_json", key="f_gone",
        content_type="application/json", payload='{"email": "x@example.com"}', status="failed",
    )
    out = io.StringIO()
    # when the command runs
    call_command("capture", "replay", stdout=out)
    # then the good one is processed and the other reported as rejected, naming why
    good.refresh_from_db()
    bad.refresh_from_db()
    assert good.status == "processed" and bad.status == "rejected"
    assert "processed: 1; rejected: 1; still failing: 0" in out.getvalue()
    assert f"#{bad.pk}: no form has the key 'f_gone'" in out.getvalue()


def test_tandem_capture_replay_fails_loudly_when_rows_still_fail(monkeypatch):
    # given a failed row and processing that still breaks
    form = make_form()
    Submission.objects.create(
        received_at="2026-11-20T10:00:00Z", source="form_json", form=form, key=form.public_key,
        content_type="application/json", payload='{"email": "cli@example.com"}', status="failed",
    )

    def broken(**kwargs: object) -> None:
        raise RuntimeError("still broken")

    monkeypatch.setattr("tandem.capture.ingest.people_change_stage_bulk", broken)
    # when the command runs, then it exits with an error naming the count
    with pytest.raises(CommandError, match="1 submission"):
        call_command("capture", "replay", stdout=io.StringIO())
    assert Person.objects.count() == 0


def test_the_forms_api_creates_lists_and_updates_forms():
    # given a marketer's session
    client = _signed_in(Role.MARKETING)
    body = {"name": "API form", "fields": [{"name": "email", "type": "email", "required": True}]}
    # when a form is created, listed and updated
    created = client.post("/api/capture/forms", data=json.dumps(body), content_type="application/json")
    form_id = created.json()["id"]
    listed = client.get("/api/capture/forms").json()
    body["name"] = "API form 2"
    updated = client.put(f"/api/capture/forms/{form_id}", data=json.dumps(body), content_type="application/json")
    # then each answers with the form and its addresses
    assert created.status_code == 201
    assert created.json()["submit_url"].endswith(f"/api/capture/forms/{created.json()['public_key']}/submissions")
    assert [f["name"] for f in listed] == ["API form"]
    assert updated.json()["name"] == "API form 2"


def test_the_forms_api_refuses_a_form_without_email_or_phone_naming_the_field():
    # given a marketer
    client = _signed_in(Role.MARKETING)
    body = {"name": "No identity", "fields": [{"name": "comment", "type": "textarea"}]}
    # when such a form is posted, then 422 names "fields", and nothing is created
    response = client.post("/api/capture/forms", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 422
    assert response.json()["field"] == "fields"
    assert Form.objects.count() == 0
