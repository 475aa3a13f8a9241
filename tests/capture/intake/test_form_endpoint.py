"""The public JSON form endpoint: people, touchpoints, campaigns, retries, spam, limits and refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.capture.models import Form, RateWindow, Submission, UnknownUtm
from tandem.core.models import Event
from tandem.crm.models import Account, Person
from tests.capture.factories import make_form

pytestmark = pytest.mark.django_db


def _post(client: Client, key: str, body: Any, **headers: str) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    content_type = headers.pop("content_type", "application/json")
    return client.post(f"/api/capture/forms/{key}/submissions", data=data, content_type=content_type, headers=headers)


def _counts() -> dict[str, int]:
    return {
        "people": Person.objects.count(),
        "touchpoints": Touchpoint.objects.count(),
        "campaigns": Campaign.objects.count(),
        "accounts": Account.objects.count(),
    }


def test_a_submission_creates_the_person_and_a_touchpoint_on_the_campaign_its_utm_tags_name():
    # given a form on a webinar campaign, and a paid social campaign tagged "spring-launch"
    webinar = Campaign.objects.create(name="Webinar", channel="webinar")
    spring = Campaign.objects.create(
        name="Spring launch", channel="paid_social", utm_campaign="spring-launch", utm_source="linkedin"
    )
    form = make_form(campaign=webinar)
    # when a visitor from the spring ad submits it
    response = _post(
        Client(),
        form.public_key,
        {
            "email": " Ann@Example.COM ",
            "first_name": "Ann",
            "company": "Example Ltd",
            "team_size": "11-50",
            "consent_email": "on",
            "utm_source": "linkedin",
            "utm_medium": "paid_social",
            "utm_campaign": "spring-launch",
            "page_url": "https://www.example.com/demo?utm_campaign=spring-launch",
            "referrer": "https://www.linkedin.com/",
        },
    )
    # then the person exists once, attributed to the spring campaign, with a form_submit touchpoint
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "received" and set(body) == {"submission_id", "status"}
    person = Person.objects.get()
    assert person.email_normalized == "ann@example.com"
    assert (person.first_name, person.account.name, person.consent_email) == ("Ann", "Example Ltd", True)
    assert person.custom_fields == {"team_size": "11-50"}
    assert (person.original_channel, person.original_campaign_id) == ("paid_social", spring.pk)
    assert person.lifecycle_stage == "lead"
    tp = Touchpoint.objects.get()
    assert (tp.kind, tp.channel, tp.campaign_id) == ("form_submit", "paid_social", spring.pk)
    assert (tp.utm_source, tp.utm_medium, tp.utm_campaign) == ("linkedin", "paid_social", "spring-launch")
    assert tp.url == "https://www.example.com/demo?utm_campaign=spring-launch"
    assert tp.referrer == "https://www.linkedin.com/"
    sub = Submission.objects.get(pk=body["submission_id"])
    assert (sub.status, sub.http_status, sub.person_id, sub.form_id) == ("processed", 201, person.pk, form.pk)
    assert json.loads(sub.payload)["email"] == " Ann@Example.COM "
    assert Event.objects.filter(kind="capture.form_submitted", subject_id=person.pk).count() == 1


def test_a_second_submission_of_the_same_email_adds_a_touchpoint_and_fills_only_blank_fields():
    # given a person who came in once without a first name
    form = make_form()
    client = Client()
    _post(client, form.public_key, {"email": "bo@example.com", "company": "Bo AB"})
    # when the same address (other case) comes back with a name and a different company
    response = _post(client, form.public_key, {"email": "BO@example.com", "first_name": "Bo", "company": "Other"})
    # then one person, two touchpoints, the name filled in and the account kept
    assert response.status_code == 201
    person = Person.objects.get()
    assert person.first_name == "Bo"
    assert person.account.name == "Bo AB"
    assert Touchpoint.objects.filter(person=person).count() == 2


def test_without_utm_tags_the_form_campaign_is_used_and_with_none_the_referrer_decides_the_channel():
    # given one form with a campaign and one without
    webinar = Campaign.objects.create(name="Webinar", channel="webinar")
    with_campaign = make_form(name="Webinar signup", campaign=webinar)
    plain = make_form(name="Contact us")
    client = Client()
    # when each is submitted with no UTM tags, the second after a Google search
    _post(client, with_campaign.public_key, {"email": "a@example.com"})
    _post(client, plain.public_key, {"email": "b@example.com", "referrer": "https://www.google.com/"})
    # then the first goes to the form's campaign and the second is organic search with no campaign
    a = Touchpoint.objects.get(person__email="a@example.com")
    b = Touchpoint.objects.get(person__email="b@example.com")
    assert (a.campaign_id, a.channel) == (webinar.pk, "webinar")
    assert (b.campaign_id, b.channel) == (None, "organic_search")


def test_a_campaign_named_by_id_wins_over_utm_tags():
    # given two campaigns
    named = Campaign.objects.create(name="Partner day", channel="partner", external_id="SF-701")
    Campaign.objects.create(name="Ads", channel="paid_search", utm_campaign="ads")
    form = make_form()
    # when the submission names one by its outside id and the other by UTM
    _post(Client(), form.public_key, {"email": "c@example.com", "campaign_id": "SF-701", "utm_campaign": "ads"})
    # then the named one gets it
    assert Touchpoint.objects.get().campaign_id == named.pk


def test_unknown_utm_tags_create_no_campaign_and_are_counted_for_marketing_to_review():
    # given no campaign carries the tag "black-friday", and the form has a campaign of its own
    form = make_form(campaign=Campaign.objects.create(name="Webinar", channel="webinar"))
    client = Client()
    utm = {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "black-friday"}
    # when two visitors arrive with it
    _post(client, form.public_key, {"email": "d@example.com", **utm})
    _post(client, form.public_key, {"email": "e@example.com", **utm})
    # then no campaign is made: both touchpoints have none (not the form's either: the tag says otherwise),
    # under the channel the tags read as, and the tag is counted once with both visits
    assert Campaign.objects.count() == 1
    assert list(Touchpoint.objects.values_list("campaign_id", "channel", "utm_campaign")) == [
        (None, "paid_search", "black-friday"), (None, "paid_search", "black-friday"),
    ]
    unknown = UnknownUtm.objects.get()
    assert (unknown.value, unknown.utm_source, unknown.utm_medium, unknown.channel, unknown.count, unknown.status) == (
        "black-friday", "google", "cpc", "paid_search", 2, "new",
    )
    assert Event.objects.filter(kind="capture.unknown_utm_seen", subject_id=unknown.pk).count() == 1
    assert Event.objects.filter(kind="capture.form_submitted", data__unknown_utm="black-friday").count() == 2


def test_utm_tags_in_the_page_address_count_when_the_page_sent_none():
    # given a campaign tagged "webinar-q3"
    campaign = Campaign.objects.create(name="Q3 webinar", channel="webinar", utm_campaign="webinar-q3")
    form = make_form()
    # when the submission carries only the page address
    _post(Client(), form.public_key, {"email": "f@example.com", "page_url": "https://x.example/?utm_campaign=webinar-q3"})
    # then the tags are read from it
    tp = Touchpoint.objects.get()
    assert (tp.campaign_id, tp.utm_campaign) == (campaign.pk, "webinar-q3")


def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer_and_writes_nothing():
    # given a first submission with an Idempotency-Key
    form = make_form()
    client = Client()
    first = _post(client, form.public_key, {"email": "g@example.com"}, **{"Idempotency-Key": "abc-1"})
    before = _counts() | {"journal": Submission.objects.count()}
    # when it is sent again with the same key
    again = _post(client, form.public_key, {"email": "g@example.com"}, **{"Idempotency-Key": "abc-1"})
    # then the same submission is answered, flagged as a replay, and nothing more is written
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["submission_id"] == first.json()["submission_id"]
    assert again["Idempotent-Replayed"] == "true"
    assert _counts() | {"journal": Submission.objects.count()} == before


def test_the_form_submission_id_makes_a_double_click_harmless():
    # given a submission carrying the snippet's submission id
    form = make_form()
    client = Client()
    payload = {"email": "h@example.com", "submission_id": "7b0e-uuid"}
    _post(client, form.public_key, payload)
    # when the same post arrives again
    again = _post(client, form.public_key, payload)
    # then it is recognised as the same submission
    assert again.status_code == 200
    assert Touchpoint.objects.count() == 1 and Submission.objects.count() == 1


def test_the_honeypot_field_files_the_submission_as_spam_and_answers_like_a_success():
    # given a robot that fills every field it sees
    form = make_form()
    # when it submits with the hidden field filled in
    response = _post(Client(), form.public_key, {"email": "bot@example.com", "hp_website": "http://spam.example"})
    # then it is told "received", the journal keeps it as spam, and no person is made
    assert response.status_code == 201
    assert Submission.objects.get().status == "spam"
    assert Person.objects.count() == 0 and Touchpoint.objects.count() == 0


@pytest.mark.parametrize(
    ("body", "content_type", "status", "field", "value"),
    [
        ({"first_name": "No email"}, "application/json", 422, "email", ""),
        ({"email": "not-an-address"}, "application/json", 422, "email", "not-an-address"),
        ({"email": "a@b.example", "team_size": "9000"}, "application/json", 422, "team_size", "9000"),
        ({"email": "a\x00@b.example"}, "application/json", 422, "email", "a@b.example"),
        ('{"email": "x@example.com",', "application/json", 400, "body", None),
        ("[1, 2]", "application/json", 400, "body", "list"),
        ("email=x%40example.com", "application/x-www-form-urlencoded", 415, "Content-Type", None),
        ("email=x@example.com", "text/plain", 415, "Content-Type", "text/plain"),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_field_and_the_journal_keeps_what_arrived(
    body, content_type, status, field, value
):
    # given a form
    form = make_form()
    before = _counts()
    # when a bad submission arrives
    response = _post(Client(), form.public_key, body, content_type=content_type)
    # then the answer names the field, nothing but the journal row is written, and that row holds the body
    assert response.status_code == status
    answer = response.json()
    assert answer["field"] == field
    if value is not None:
        assert answer["value"] == value
    assert _counts() == before
    sub = Submission.objects.get()
    assert (sub.status, sub.http_status, sub.error_field) == ("rejected", status, field)
    raw = body if isinstance(body, str) else json.dumps(body)
    assert sub.payload == raw.replace("\x00", "\ufffd")


def test_an_unknown_form_key_is_a_404_and_is_journaled():
    # given no form with this key
    # when something posts to it
    response = _post(Client(), "f_nope", {"email": "x@example.com"})
    # then 404 names the key, and the journal holds the attempt
    assert response.status_code == 404
    assert response.json() == {"submission_id": Submission.objects.get().pk, "detail": "no form has the key 'f_nope'", "field": "key", "value": "f_nope"}
    assert Submission.objects.get().form_id is None


def test_an_oversize_payload_is_a_413_and_the_journal_keeps_its_beginning():
    # given a form
    form = make_form()
    # when 70 KiB arrive
    big = json.dumps({"email": "x@example.com", "note": "a" * 70_000})
    response = _post(Client(), form.public_key, big)
    # then 413, nothing written but the journal row, holding the first 64 KiB
    assert response.status_code == 413
    assert response.json()["field"] == "body"
    sub = Submission.objects.get()
    assert (sub.body_size, len(sub.payload)) == (len(big), 64 * 1024)
    assert Person.objects.count() == 0


def test_a_closed_form_refuses_submissions():
    # given a closed form
    form = make_form()
    Form.objects.filter(pk=form.pk).update(is_active=False)
    # when someone submits
    response = _post(Client(), form.public_key, {"email": "x@example.com"})
    # then 409 and no person
    assert response.status_code == 409
    assert Person.objects.count() == 0


def test_over_the_rate_limit_answers_429_with_retry_after_and_writes_nothing(monkeypatch):
    # given a form allowing 3 submissions a minute, all inside one minute
    form = make_form(rate_limit_per_minute=3)
    monkeypatch.setattr("tandem.capture.intake.services.time.time", lambda: 1_800_000_000.0 + 15)
    client = Client()
    answers = [_post(client, form.public_key, {"email": f"r{i}@example.com"}).status_code for i in range(3)]
    before = _counts() | {"journal": Submission.objects.count()}
    # when a fourth arrives 15 s into the minute
    response = _post(client, form.public_key, {"email": "r9@example.com"})
    # then it is refused with the seconds left in the minute, and no journal row or person is written
    assert answers == [201, 201, 201]
    assert response.status_code == 429
    assert response["Retry-After"] == "45"
    assert response.json()["field"] == "key"
    assert _counts() | {"journal": Submission.objects.count()} == before
    # and the refused request was counted too (on PostgreSQL each server process counts in its own row)
    assert sum(RateWindow.objects.filter(key__startswith=form.public_key).values_list("count", flat=True)) == 4


def test_a_new_minute_opens_a_new_budget_and_forgets_old_windows(monkeypatch):
    # given a limit reached in one minute
    form = make_form(rate_limit_per_minute=1)
    clock = {"now": 1_800_000_000.0}
    monkeypatch.setattr("tandem.capture.intake.services.time.time", lambda: clock["now"])
    client = Client()
    assert _post(client, form.public_key, {"email": "s1@example.com"}).status_code == 201
    assert _post(client, form.public_key, {"email": "s2@example.com"}).status_code == 429
    # when two minutes later another arrives
    clock["now"] += 120
    response = _post(client, form.public_key, {"email": "s3@example.com"})
    # then it passes, and only the current window is kept
    assert response.status_code == 201
    # (the form's and the client address's; on PostgreSQL the form's row is this server process's shard)
    rows = RateWindow.objects.values_list("key", "window", "count").order_by("key")
    assert [(key.split("#")[0], window, count) for key, window, count in rows] == [
        ("addr:127.0.0.1", int(clock["now"] // 60), 1), (form.public_key, int(clock["now"] // 60), 1),
    ]


def test_a_processing_failure_keeps_the_raw_row_marked_and_replay_processes_it(monkeypatch):
    # given processing that breaks once (a bug, a lost connection)
    form = make_form()
    import tandem.capture.ingest as ingest
    from tandem.capture.intake.services import submissions_replay

    real = ingest.people_change_stage_bulk

    def broken(**kwargs: Any) -> Any:  # the batch's last write, after its people and touchpoints
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(ingest, "people_change_stage_bulk", broken)
    response = _post(Client(), form.public_key, {"email": "t@example.com", "first_name": "Tia"})
    # then the sender hears it was received, nothing half-written remains, and the row says why
    assert response.status_code == 202
    assert response.json()["status"] == "failed"
    sub = Submission.objects.get()
    assert (sub.status, sub.error, sub.person_id) == ("failed", "RuntimeError: disk on fire", None)
    assert Person.objects.count() == 0 and Touchpoint.objects.count() == 0
    # when the cause is fixed and the row replayed
    monkeypatch.setattr(ingest, "people_change_stage_bulk", real)
    result = submissions_replay()
    # then it becomes the person and the touchpoint, at the time it arrived
    sub.refresh_from_db()
    assert (result.processed, result.failed) == (1, 0)
    assert (sub.status, sub.attempts, sub.error) == ("processed", 2, "")
    person = Person.objects.get()
    assert person.first_name == "Tia" and sub.person_id == person.pk
    assert Touchpoint.objects.get().occurred_at == sub.received_at


def test_replaying_a_processed_row_is_refused():
    # given a processed submission
    form = make_form()
    _post(Client(), form.public_key, {"email": "u@example.com"})
    from tandem.capture.intake.services import submission_replay
    from tandem.core.errors import NotAllowed

    sub = Submission.objects.get()
    # when it is replayed, then it is refused and nothing changes
    with pytest.raises(NotAllowed):
        submission_replay(submission=sub)
    assert Touchpoint.objects.count() == 1


def test_the_public_answer_does_not_reveal_whether_an_email_was_known():
    # given a person already known
    form = make_form()
    client = Client()
    first = _post(client, form.public_key, {"email": "known@example.com"}).json()
    # when the same and a new address are submitted
    second = _post(client, form.public_key, {"email": "known@example.com"}).json()
    third = _post(client, form.public_key, {"email": "new@example.com"}).json()
    # then all answers have the same shape
    assert {k for k in first} == {k for k in second} == {k for k in third} == {"submission_id", "status"}


def test_in_background_mode_the_request_only_journals_and_the_drain_makes_the_person(settings):
    # given background processing
    settings.CAPTURE_PROCESSING = "background"
    form = make_form()
    # when a submission arrives
    response = _post(Client(), form.public_key, {"email": "later@example.com"})
    # then it is accepted (202) and waits in the journal
    assert response.status_code == 202 and response.json()["status"] == "received"
    assert Submission.objects.get().status == "received" and Person.objects.count() == 0
    # when the worker's drain runs
    from tandem.capture.intake.processing import submissions_drain

    result = submissions_drain()
    # then the person and touchpoint exist and the row is processed
    assert result.processed == 1
    assert Person.objects.get().email == "later@example.com"
    assert Submission.objects.get().status == "processed"


def test_the_drain_processes_a_mixed_batch_in_one_go():
    # given 30 journaled rows: 10 people three times each, one spam, one that no longer passes its form
    from tandem.capture.intake.processing import submissions_drain

    form = make_form()
    rows = [
        Submission(received_at=f"2026-11-20T10:{i:02d}:00Z", source="form_json", form=form, key=form.public_key,
                   content_type="application/json", payload=json.dumps({"email": f"p{i % 10}@example.com", "first_name": f"P{i % 10}"}))
        for i in range(30)
    ]
    rows.append(Submission(received_at="2026-11-20T11:00:00Z", source="form_json", form=form, key=form.public_key,
                           content_type="application/json", payload='{"email": "bot@example.com", "hp_website": "x"}'))
    rows.append(Submission(received_at="2026-11-20T11:00:00Z", source="form_json", form=form, key=form.public_key,
                           content_type="application/json", payload='{"email": "nope"}'))
    Submission.objects.bulk_create(rows)
    # when the drain runs
    result = submissions_drain()
    # then 10 people, 30 touchpoints, each person created at their first submission, and the two odd rows marked
    assert (result.processed, result.rejected, result.failed) == (31, 1, 0)
    assert (Person.objects.count(), Touchpoint.objects.count()) == (10, 30)
    p3 = Person.objects.get(email="p3@example.com")
    assert p3.created_at.minute == 3 and p3.first_name == "P3"
    assert Submission.objects.filter(status="spam").count() == 1
    assert Submission.objects.get(status="rejected").error_field == "email"
    assert Event.objects.filter(kind="capture.form_submitted").count() == 30


def test_a_refused_submission_does_not_use_up_its_idempotency_key():
    # given a submission refused for a malformed email
    form = make_form()
    client = Client()
    first = _post(client, form.public_key, {"email": "ann@", "submission_id": "s-9"})
    # when the visitor corrects it and sends it again with the same id
    again = _post(client, form.public_key, {"email": "ann@example.com", "submission_id": "s-9"})
    # then the correction is captured, and the refusal stays in the journal with the key it carried
    assert (first.status_code, again.status_code) == (422, 201)
    assert Person.objects.get().email == "ann@example.com"
    refused = Submission.objects.get(status="rejected")
    assert refused.idempotency_key is None and refused.result == {"idempotency_key": "s-9"}
