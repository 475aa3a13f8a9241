"""Capture hardening: unknown UTM tags counted for review (never made campaigns anonymously), per-address and
per-form rate limits, a honeypot answered exactly as a real post, and control characters refused by name."""

from __future__ import annotations

import json
import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tandem.campaigns.models import Campaign, Touchpoint
from tandem.capture.intake import services
from tandem.capture.intake.processing import submissions_drain
from tandem.capture.models import RateWindow, Submission, UnknownUtm
from tandem.core.models import Event
from tandem.crm.models import Person
from tests.capture.factories import make_form
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = 1_800_000_000.0 + 15  # 15 s into a minute, so Retry-After is 45


def _post(key: str, body: Any, *, address: str = "127.0.0.1", client: Client | None = None, **headers: str) -> Any:
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    return (client or Client()).post(
        f"/api/capture/forms/{key}/submissions", data=data, content_type="application/json", headers=headers,
        REMOTE_ADDR=address,
    )


def _counts() -> dict[str, int]:
    return {
        "people": Person.objects.count(),
        "touchpoints": Touchpoint.objects.count(),
        "campaigns": Campaign.objects.count(),
        "unknown": UnknownUtm.objects.count(),
        "journal": Submission.objects.count(),
        "events": Event.objects.count(),
    }


@pytest.fixture
def still_clock(monkeypatch):  # type: ignore[no-untyped-def]
    # Every request inside one minute; PostgreSQL's per-process counts start afresh.
    monkeypatch.setattr("tandem.capture.intake.services.time.time", lambda: NOW)
    services._local_counts.clear()


def _marketer_client() -> Client:
    client = Client()
    client.force_login(UserFactory(role="marketing"))
    return client


# ---- unknown UTM tags ----


def test_each_tag_source_and_medium_is_counted_apart_and_a_known_tag_is_not_counted():
    # given a campaign carrying "spring" and none carrying "autumn"
    spring = Campaign.objects.create(name="Spring", channel="paid_social", utm_campaign="spring")
    form = make_form()
    # when posts arrive with autumn from google/cpc twice, autumn from bing/cpc once, and spring once
    for email, source in (("a@example.com", "google"), ("b@example.com", "google"), ("c@example.com", "bing")):
        _post(form.public_key, {"email": email, "utm_campaign": "autumn", "utm_source": source, "utm_medium": "cpc"})
    _post(form.public_key, {"email": "d@example.com", "utm_campaign": "spring", "utm_source": "linkedin"})
    # then two rows wait for review, counted exactly, no campaign was made, and spring's touch is on spring
    assert sorted(UnknownUtm.objects.values_list("value", "utm_source", "utm_medium", "count", "status")) == [
        ("autumn", "bing", "cpc", 1, "new"), ("autumn", "google", "cpc", 2, "new"),
    ]
    assert list(Campaign.objects.values_list("pk", flat=True)) == [spring.pk]
    assert Touchpoint.objects.filter(campaign=spring).count() == 1
    assert Touchpoint.objects.filter(campaign=None).count() == 3
    row = UnknownUtm.objects.get(utm_source="google")
    assert row.first_seen <= row.last_seen


def test_the_review_page_lists_new_tags_with_their_actions_in_a_fixed_number_of_queries(django_assert_num_queries):
    # given two unknown tags, one ignored
    form = make_form()
    _post(form.public_key, {"email": "a@example.com", "utm_campaign": "autumn", "utm_source": "google"})
    _post(form.public_key, {"email": "b@example.com", "utm_campaign": "winter"})
    UnknownUtm.objects.filter(value="winter").update(status="ignored")
    client = _marketer_client()
    client.get(reverse("intake:unknown_utm"))  # warm the session and permission caches
    # when marketing opens the review page
    with django_assert_num_queries(6):
        response = client.get(reverse("intake:unknown_utm"))
    # then it lists the new tag with its proposed campaign name and both actions, and not the ignored one
    html = response.content.decode()
    assert response.status_code == 200
    assert "autumn" in html and 'value="autumn (google)"' in html and "winter" not in html
    autumn = UnknownUtm.objects.get(value="autumn")
    assert reverse("intake:unknown_utm_campaign", args=[autumn.pk]) in html
    assert reverse("intake:unknown_utm_ignore", args=[autumn.pk]) in html
    # and the ignored one is listed under its own status
    assert "winter" in client.get(reverse("intake:unknown_utm") + "?status=ignored").content.decode()


def test_create_campaign_from_a_tag_makes_it_through_campaigns_and_later_touches_count_for_it():
    # given a tag seen once
    form = make_form()
    utm = {"utm_campaign": "autumn", "utm_source": "google", "utm_medium": "cpc"}
    _post(form.public_key, {"email": "a@example.com", **utm})
    unknown = UnknownUtm.objects.get()
    client = _marketer_client()
    # when marketing makes a campaign of it from the page, renaming it
    response = client.post(
        reverse("intake:unknown_utm_campaign", args=[unknown.pk]), {"name": "Autumn sale", "channel": "paid_search"}
    )
    # then a campaign carries the tags (made by campaigns' own service: its event), the tag is marked, and the
    # next visit with it counts for the campaign and is no longer counted as unknown
    assert response.status_code == 302
    campaign = Campaign.objects.get()
    assert (campaign.name, campaign.channel, campaign.status, campaign.utm_campaign, campaign.utm_source,
            campaign.utm_medium) == ("Autumn sale", "paid_search", "active", "autumn", "google", "cpc")
    assert Event.objects.filter(kind="campaign.created", subject_id=campaign.pk).count() == 1
    unknown.refresh_from_db()
    assert (unknown.status, unknown.campaign_id, unknown.count) == ("campaign", campaign.pk, 1)
    assert Event.objects.get(kind="capture.unknown_utm_campaign").data["created"] is True
    _post(form.public_key, {"email": "b@example.com", **utm})
    assert Touchpoint.objects.get(person__email="b@example.com").campaign_id == campaign.pk
    assert UnknownUtm.objects.get().count == 1
    # (the touch recorded before the campaign existed stays without one)
    assert Touchpoint.objects.get(person__email="a@example.com").campaign_id is None


def test_a_tag_a_campaign_carries_by_now_is_linked_to_it_not_made_twice():
    # given a tag seen once, then a campaign made by hand with that tag
    form = make_form()
    _post(form.public_key, {"email": "a@example.com", "utm_campaign": "autumn"})
    made = Campaign.objects.create(name="Autumn", channel="email", utm_campaign="autumn")
    unknown = UnknownUtm.objects.get()
    # when marketing makes a campaign of the tag over the API
    response = _marketer_client().post(
        f"/api/capture/unknown-utm/{unknown.pk}/campaign", data={}, content_type="application/json"
    )
    # then no second campaign: the tag now points to the one that exists
    assert response.status_code == 201
    assert response.json()["campaign_id"] == made.pk and response.json()["unknown"]["status"] == "campaign"
    assert Campaign.objects.count() == 1


def test_the_api_lists_tags_and_ignores_one_and_an_ignored_tag_is_still_counted_never_made_a_campaign():
    # given a tag seen once
    form = make_form()
    _post(form.public_key, {"email": "a@example.com", "utm_campaign": "autumn", "utm_source": "google"})
    client = _marketer_client()
    # when marketing lists the tags and ignores it
    listed = client.get("/api/capture/unknown-utm")
    unknown_id = listed.json()[0]["id"]
    ignored = client.post(f"/api/capture/unknown-utm/{unknown_id}/ignore")
    # then the list gave its fields, and it is ignored
    assert listed.status_code == 200
    item = listed.json()[0]
    assert {k: item[k] for k in ("value", "utm_source", "utm_medium", "channel", "count", "status", "campaign_id")} == {
        "value": "autumn", "utm_source": "google", "utm_medium": "", "channel": "other", "count": 1, "status": "new",
        "campaign_id": None,
    }
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    assert client.get("/api/capture/unknown-utm").json() == []
    # and when it comes again it is counted, still ignored, and no campaign is made
    _post(form.public_key, {"email": "b@example.com", "utm_campaign": "autumn", "utm_source": "google"})
    assert UnknownUtm.objects.values_list("count", "status").get() == (2, "ignored")
    assert Campaign.objects.count() == 0
    assert [u["id"] for u in client.get("/api/capture/unknown-utm?status=all").json()] == [unknown_id]


def test_a_rep_may_list_but_not_decide_and_a_refused_or_repeated_decision_changes_nothing():
    # given a tag that already became a campaign, and another one to review
    form = make_form()
    _post(form.public_key, {"email": "a@example.com", "utm_campaign": "autumn"})
    _post(form.public_key, {"email": "b@example.com", "utm_campaign": "winter"})
    marketer = _marketer_client()
    autumn, winter = UnknownUtm.objects.get(value="autumn"), UnknownUtm.objects.get(value="winter")
    marketer.post(f"/api/capture/unknown-utm/{autumn.pk}/campaign", data={}, content_type="application/json")
    before = _counts()
    rep = Client()
    rep.force_login(UserFactory(role="sales_rep"))
    # when a rep tries to make a campaign of winter and to ignore it, and marketing makes autumn a campaign again
    made = rep.post(f"/api/capture/unknown-utm/{winter.pk}/campaign", data={}, content_type="application/json")
    ignored = rep.post(f"/api/capture/unknown-utm/{winter.pk}/ignore")
    again = marketer.post(f"/api/capture/unknown-utm/{autumn.pk}/campaign", data={}, content_type="application/json")
    page = rep.post(reverse("intake:unknown_utm_ignore", args=[winter.pk]))
    # then the rep is refused, the repeat is a conflict naming the status, and nothing changed
    assert (made.status_code, ignored.status_code, page.status_code) == (403, 403, 403)
    assert again.status_code == 409 and again.json()["field"] == "status"
    assert _counts() == before
    assert UnknownUtm.objects.get(pk=winter.pk).status == "new"
    # and the rep may read the list (viewers and reps see every app)
    assert rep.get("/api/capture/unknown-utm").status_code == 200


def test_the_cli_lists_the_tags_to_review():
    # given a tag seen twice
    form = make_form()
    for email in ("a@example.com", "b@example.com"):
        _post(form.public_key, {"email": email, "utm_campaign": "autumn", "utm_source": "google", "utm_medium": "cpc"})
    # when
    out = StringIO()
    call_command("capture", "utm", stdout=out)
    # then one line per tag, with its count and tags
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"\s+\d+\s+2\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+new\s+autumn \(google / cpc\)", lines[1])


# ---- rate limits ----


def test_one_address_over_its_budget_is_refused_while_others_pass_under_the_forms_budget(settings, still_clock):
    # given a form taking 6 posts a minute, and 3 a minute from each address
    settings.CAPTURE_ADDRESS_RATE_LIMIT = 3
    form = make_form(rate_limit_per_minute=6)
    # when one client sends 13 posts, then another sends 3, then a third sends one
    a = [_post(form.public_key, {"email": f"a{i}@example.com"}, address="198.51.100.7") for i in range(13)]
    journal_after_a = Submission.objects.count()
    b = [_post(form.public_key, {"email": f"b{i}@example.com"}, address="203.0.113.9").status_code for i in range(3)]
    c = _post(form.public_key, {"email": "c@example.com"}, address="192.0.2.1")
    # then the first client got 3 through and 10 refusals naming its address; its refusals spent nothing of
    # the form's budget, so the second client got all 3 through; the third found the form's budget used up
    assert [r.status_code for r in a] == [201] * 3 + [429] * 10
    refusal = a[-1]
    assert refusal["Retry-After"] == "45"
    assert refusal.json() == {
        "detail": "too many requests from this address; retry in 45 s", "field": "address", "value": "198.51.100.7",
    }
    assert journal_after_a == 3
    assert b == [201, 201, 201]
    assert c.status_code == 429 and c.json()["field"] == "key"
    # and the journal holds the 6 accepted posts exactly, each with its client's address
    assert Submission.objects.count() == 6 and Person.objects.count() == 6
    assert sorted(Submission.objects.values_list("remote_addr", flat=True)) == ["198.51.100.7"] * 3 + ["203.0.113.9"] * 3
    # and the address's count is kept (all 13 requests)
    assert RateWindow.objects.get(key="addr:198.51.100.7").count == 13


def test_the_address_budget_costs_a_form_post_no_statement_of_its_own(settings, still_clock):
    # given background processing (the default) and a form with a generous budget, posted to once already
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.CAPTURE_PROCESSING = "background"
    form = make_form(rate_limit_per_minute=1_000)
    _post(form.public_key, {"email": "first@example.com"}, address="10.0.0.1")
    # when a visitor from a new address posts
    with CaptureQueriesContext(connection) as captured:
        response = _post(form.public_key, {"email": "next@example.com"}, address="10.0.0.2")
    # then the post cost what it cost before addresses were counted: on SQLite one upsert counting the form and
    # the address together, then the journal insert; on PostgreSQL one statement (the address is counted in
    # the journal insert's own statement; the form's count waits for its periodic sync)
    statements = [q["sql"].split()[0] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert response.status_code == 202
    assert statements == (["WITH"] if connection.vendor == "postgresql" else ["INSERT", "INSERT"])
    assert RateWindow.objects.filter(key__startswith="addr:").count() == 2


def test_without_a_trusted_proxy_a_client_cannot_dodge_its_budget_with_x_forwarded_for(settings, still_clock):
    # given 1 post a minute per address, and no proxy in front
    settings.CAPTURE_ADDRESS_RATE_LIMIT = 1
    form = make_form()
    # when one client claims a different forwarded address each time
    codes = [
        _post(form.public_key, {"email": f"x{i}@example.com"}, address="198.51.100.7",
              **{"X-Forwarded-For": f"10.0.0.{i}"}).status_code
        for i in range(2)
    ]
    # then its own address counts, and the journal keeps that one
    assert codes == [201, 429]
    assert Submission.objects.get().remote_addr == "198.51.100.7"


@pytest.mark.parametrize("proxy_settings", [{"TRUSTED_PROXY_COUNT": 1}, {"TANDEM_TRUSTED_PROXY": True}])
def test_behind_a_trusted_proxy_the_address_it_appended_counts_not_what_the_client_wrote(
    settings, still_clock, proxy_settings
):
    # given a proxy in front of Tandem, and 1 post a minute per address
    for name, value in proxy_settings.items():
        setattr(settings, name, value)
    settings.CAPTURE_ADDRESS_RATE_LIMIT = 1
    form = make_form()
    # when two visitors behind the same proxy post, one of them claiming an address of its own on the left
    first = _post(form.public_key, {"email": "p@example.com"}, address="10.0.0.2",
                  **{"X-Forwarded-For": "1.2.3.4, 203.0.113.9"})
    second = _post(form.public_key, {"email": "q@example.com"}, address="10.0.0.2",
                   **{"X-Forwarded-For": "192.0.2.44"})
    third = _post(form.public_key, {"email": "r@example.com"}, address="10.0.0.2",
                  **{"X-Forwarded-For": "5.6.7.8, 203.0.113.9"})
    # then each counts as the address the proxy appended
    assert (first.status_code, second.status_code, third.status_code) == (201, 201, 429)
    assert third.json()["value"] == "203.0.113.9"
    assert sorted(Submission.objects.values_list("remote_addr", flat=True)) == ["192.0.2.44", "203.0.113.9"]


def test_an_address_budget_of_zero_counts_no_address(settings, still_clock):
    # given no per-address budget
    settings.CAPTURE_ADDRESS_RATE_LIMIT = 0
    form = make_form(rate_limit_per_minute=100)
    # when one client posts 40 times
    codes = {_post(form.public_key, {"email": f"z{i}@example.com"}).status_code for i in range(40)}
    # then all pass, and no address row is kept
    assert codes == {201}
    assert not RateWindow.objects.filter(key__startswith="addr:").exists()


def test_a_new_form_takes_its_budget_from_the_setting_and_a_change_keeps_it(settings):
    # given a site-wide default of 45 posts a minute per form
    settings.CAPTURE_FORM_RATE_LIMIT = 45
    client = _marketer_client()
    fields = [{"name": "email", "type": "email", "required": True}]
    # when a form is created and then renamed over the API without naming its limit
    created = client.post("/api/capture/forms", data={"name": "Quick", "fields": fields}, content_type="application/json")
    changed = client.put(
        f"/api/capture/forms/{created.json()['id']}", data={"name": "Quicker", "fields": fields},
        content_type="application/json",
    )
    # then it took the default and kept it
    assert created.status_code == 201 and created.json()["rate_limit_per_minute"] == 45
    assert changed.status_code == 200 and changed.json()["rate_limit_per_minute"] == 45


# ---- the honeypot ----


def _anonymised(response: Any) -> tuple[int, bytes, list[tuple[str, str]]]:
    """Status, body and headers of an answer with its journal id and request id written as N (ids differ, nothing
    else may; every answer's request id is new and random, so it tells a robot nothing)."""
    body = re.sub(rb'"submission_id": \d+', b'"submission_id": N', response.content)
    headers = sorted(
        (k, "N" if k == "X-Request-ID" else v) for k, v in response.headers.items() if k != "Content-Length"
    )
    return response.status_code, body, headers


@pytest.mark.parametrize(("processing", "status"), [("background", 202), ("inline", 201)])
def test_a_caught_honeypot_is_answered_byte_for_byte_as_a_real_post_and_stores_nothing_that_counts(
    settings, processing, status
):
    # given a form, processing in the background (the default) or inline
    settings.CAPTURE_PROCESSING = processing
    form = make_form()
    # when a visitor and a robot post (ids of the same width, so the lengths agree too)
    real = _post(form.public_key, {"email": "ann@example.com", "submission_id": "id-1"})
    robot = _post(form.public_key, {"email": "bot@example.com", "hp_website": "http://spam.example",
                                    "submission_id": "id-2"})
    # then the answers are the same but for the journal id
    assert real.status_code == status
    assert _anonymised(robot) == _anonymised(real)
    assert len(robot.content) == len(real.content)
    # and once processed, the robot left a spam row in the journal (the spam counter) and nothing else
    submissions_drain()
    assert dict(Submission.objects.values_list("idempotency_key", "status")) == {"id-1": "processed", "id-2": "spam"}
    assert list(Person.objects.values_list("email", flat=True)) == ["ann@example.com"]
    assert Touchpoint.objects.count() == 1 and UnknownUtm.objects.count() == 0
    assert Event.objects.filter(kind="capture.form_submitted").count() == 1
    # and a retry of each gets the same answer again
    again_real = _post(form.public_key, {"email": "ann@example.com", "submission_id": "id-1"})
    again_robot = _post(form.public_key, {"email": "bot@example.com", "hp_website": "x", "submission_id": "id-2"})
    assert again_real.status_code == 200 and _anonymised(again_robot) == _anonymised(again_real)


def test_a_honeypot_post_with_a_bad_field_is_refused_as_a_real_one_would_be():
    # given a form
    form = make_form()
    # when a robot fills the honeypot and sends a bad address, as a visitor with the same mistake would
    robot = _post(form.public_key, {"email": "not-an-address", "hp_website": "x"})
    real = _post(form.public_key, {"email": "not-an-address"})
    # then both get the same refusal: the honeypot gives nothing away
    assert _anonymised(robot) == _anonymised(real)
    assert robot.status_code == 422 and robot.json()["field"] == "email"


def test_the_hosted_page_sends_a_robot_to_the_same_thank_you_page_as_a_visitor():
    # given a form's hosted page
    form = make_form()
    url = reverse("intake:hosted", args=[form.public_key])
    # when a visitor and a robot send it
    real = Client().post(url, {"email": "ann@example.com"})
    robot = Client().post(url, {"email": "bot@example.com", "hp_website": "http://spam.example"})
    # then both are sent to the thank-you page, alike
    assert (real.status_code, real["Location"]) == (302, reverse("intake:thanks", args=[form.public_key]))
    assert _anonymised(robot) == _anonymised(real)
    assert Person.objects.count() == 1


# ---- control characters ----


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"email": "a\x00@b.example"}, "email", "0000"),
        ({"email": "a@b.example", "first_name": "Ann\x07"}, "first_name", "0007"),
        ({"email": "a@b.example", "company": "\x1bAcme"}, "company", "001B"),
        ({"email": "a@b.example", "utm_campaign": "spring\x0c"}, "utm_campaign", "000C"),
        ({"email": "a@b.example", "page_url": "https://x.example/\x00"}, "page_url", "0000"),
    ],
)
def test_a_control_character_in_a_post_is_a_422_naming_the_field_and_only_the_journal_keeps_it(body, field, code):
    # given a form
    form = make_form()
    before = _counts()
    # when a post carries a control character
    response = _post(form.public_key, body)
    # then 422 names the field and the character, and nothing but the rejected journal row is written
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert response.json()["detail"] == f"{field}: control character U+{code} not allowed"
    assert _counts() == {**before, "journal": before["journal"] + 1}
    assert Submission.objects.get().status == "rejected"


def test_tabs_and_line_breaks_are_text_and_pass():
    # given a form with a free-text field
    form = make_form(fields=[{"name": "email", "type": "email", "required": True},
                             {"name": "note", "type": "textarea"}])
    # when a visitor writes two lines with a tab
    response = _post(form.public_key, {"email": "a@b.example", "note": "line one\r\n\tline two"})
    # then it is kept as written
    assert response.status_code == 201
    assert Person.objects.get().custom_fields == {"note": "line one\r\n\tline two"}


def test_a_control_character_in_a_tracking_events_properties_is_a_422_naming_it():
    # given a marketing token
    from tandem.users.services import api_token_create

    token = api_token_create(user=UserFactory(role="marketing"), name="tool")[1]
    before = _counts()
    # when an event's property holds a NUL
    response = Client().post(
        "/api/capture/track", data=json.dumps({"kind": "ad_click", "email": "k@example.com", "properties": {"note": "a\x00"}}),
        content_type="application/json", headers={"Authorization": f"Bearer {token}"},
    )
    # then it is refused naming the property, and only the journal row is written
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["detail"]) == (
        "properties.note", "properties.note: control character U+0000 not allowed",
    )
    assert _counts() == {**before, "journal": before["journal"] + 1}
