"""Scheduled mail against a real SMTP server (aiosmtpd): the weekly alignment report as HTML and text, opt-out,
one send per period, the SLA digest, the commands and the API; content e-mailed with a tracked link."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tandem.campaigns.models import Touchpoint
from tandem.core.models import Event
from tandem.crm.models import StageChange
from tandem.enablement.models import ContentUse
from tandem.integrations.mail import services
from tandem.integrations.mail.models import MailSend, MailSubscription, TrackedLink
from tandem.users.models import Role
from tests.analytics.test_weekly import _history
from tests.crm.factories import PersonFactory
from tests.enablement.factories import AssetFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
MONDAY_8 = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)  # the report's week is 2026-11-09 to 11-15


def _parts(message: Any) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    return text, html


def test_the_weekly_report_arrives_at_a_real_smtp_server_as_html_and_text(smtp_server: Any) -> None:
    # given the hand-made week of tests/analytics/test_weekly.py (revenue $13,000 from "Big one" and "Acme
    # expansion"), marketing's Mia (on by default), rep Ray (off by default) and manager Ola, who opted out
    _history()
    mia = UserFactory(username="mia", role=Role.MARKETING, email="mia@example.com")
    ola = UserFactory(username="ola", role=Role.SALES_MANAGER)
    services.mail_subscription_set(user=ola, kind="weekly_report", subscribed=False, by_user=ola)
    # when the weekly send runs on Monday morning
    results = services.weekly_reports_send(now=MONDAY_8)
    # then only Mia gets it, once, with both parts carrying the report's figures
    assert [(r.username, r.status, r.period) for r in results] == [("mia", "sent", "2026-11-09")]
    assert len(smtp_server.received) == 1
    got = smtp_server.received[0]
    assert got.rcpt_tos == ["mia@example.com"]
    assert got.message["Subject"] == "[Tandem] Weekly alignment report: week of 2026-11-09"
    assert got.message["From"] == "tandem@example.com"
    assert got.message.get_content_type() == "multipart/alternative"
    text, html = _parts(got.message)
    assert "Week of 2026-11-09 to 2026-11-15" in text
    assert "- Revenue: $13,000 / $0 / $0" in text
    assert "- Leads: 2 / 1 / 0" in text
    assert "- Big one: $8,000, no account, rep ray" in text
    assert "- Acme expansion: $5,000, no account, rep ray; campaigns Nurture -> Webinar X" in text
    assert "Win rate: 67% (2 won of 3 closed)" in text
    assert "<strong>$13,000</strong>" in html
    assert "Big one" in html and "Nurture → Webinar X" in html
    assert "<script" not in html.lower() and "<link" not in html.lower()
    # and a signed one-click unsubscribe link, in the header and the footer
    unsubscribe = re.fullmatch(
        r"<(https://tandem\.example\.com/mail/unsubscribe/[^>]+/)>",
        "".join(got.message["List-Unsubscribe"].split()),
    )
    assert unsubscribe is not None
    assert got.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert unsubscribe.group(1) in text and unsubscribe.group(1) in html
    row = MailSend.objects.get()
    assert (row.user_id, row.kind, row.period, row.status, row.to_address) == (
        mia.pk,
        "weekly_report",
        "2026-11-09",
        "sent",
        "mia@example.com",
    )
    assert row.sent_at is not None


def test_a_period_is_sent_once_even_when_the_run_repeats(smtp_server: Any) -> None:
    # given a subscriber who got this week's report
    _history()
    UserFactory(username="mia", role=Role.MARKETING)
    services.weekly_reports_send(now=MONDAY_8)
    # when the worker restarts and runs again the same day, and later that week
    again = services.weekly_reports_send(now=MONDAY_8 + dt.timedelta(hours=2))
    later = services.weekly_reports_send(now=MONDAY_8 + dt.timedelta(days=2))
    # then nothing more is sent for that week
    assert [r.status for r in again] == ["already"]
    assert [r.status for r in later] == ["already"]
    assert len(smtp_server.received) == 1
    assert MailSend.objects.count() == 1
    # and the next week is a new period
    nxt = services.weekly_reports_send(now=MONDAY_8 + dt.timedelta(weeks=1))
    assert [(r.status, r.period) for r in nxt] == [("sent", "2026-11-16")]


def test_a_failed_send_is_retried_on_the_next_run(smtp_server: Any, settings: Any) -> None:
    # given the mail server unreachable (a port nobody listens on)
    _history()
    UserFactory(username="mia", role=Role.MARKETING)
    port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1
    # when the send runs
    failed = services.weekly_reports_send(now=MONDAY_8)
    # then it is recorded as failed, with the error
    assert [r.status for r in failed] == ["failed"]
    row = MailSend.objects.get()
    assert row.status == "failed" and "ConnectionRefusedError" in row.error
    # when the server is back and the next run comes
    settings.EMAIL_PORT = port
    retried = services.weekly_reports_send(now=MONDAY_8 + dt.timedelta(minutes=15))
    # then the same period is sent, on its second attempt
    assert [r.status for r in retried] == ["sent"]
    row.refresh_from_db()
    assert (row.status, row.attempts, row.error) == ("sent", 2, "")
    assert len(smtp_server.received) == 1


def test_the_unsubscribe_link_opts_out_with_one_click_and_no_session(smtp_server: Any) -> None:
    # given Mia got the report with its unsubscribe link
    _history()
    mia = UserFactory(username="mia", role=Role.MARKETING)
    services.weekly_reports_send(now=MONDAY_8)
    url = (
        smtp_server.received[0]
        .message["List-Unsubscribe"]
        .replace(" ", "")
        .strip()
        .strip("<>")
        .removeprefix("https://tandem.example.com")
    )
    anonymous = Client(enforce_csrf_checks=True)
    # when the link is opened (a GET, as a mail scanner would)
    asked = anonymous.get(url)
    # then it only asks
    assert asked.status_code == 200 and b"Stop getting the weekly alignment report" in asked.content
    assert not MailSubscription.objects.exists()
    # when the mail client posts the one-click unsubscribe (no session, no CSRF token)
    done = anonymous.post(url, {"List-Unsubscribe": "One-Click"})
    # then Mia is opted out, with an event, and the next week's report does not go to her
    assert done.status_code == 200 and b"you no longer get the weekly alignment report" in done.content
    assert MailSubscription.objects.get(user=mia).subscribed is False
    assert Event.objects.filter(kind="mail.unsubscribed", subject_id=mia.pk).count() == 1
    assert services.weekly_reports_send(now=MONDAY_8 + dt.timedelta(weeks=1)) == []
    assert len(smtp_server.received) == 1
    # and a forged or altered token is not found, changing nothing
    assert anonymous.post(url[:-3] + "xx/").status_code == 404


def test_the_settings_page_and_the_api_change_subscriptions(client: Any) -> None:
    # given a rep: digest on, weekly report off by default
    rep = UserFactory(username="ray", role=Role.SALES_REP)
    client.force_login(rep)
    # when they read their subscriptions
    got = client.get("/api/mail/subscriptions").json()
    # then the defaults apply and nothing is e-mailed without SMTP
    assert got["configured"] is False
    assert [(i["kind"], i["subscribed"], i["default"], i["chosen"]) for i in got["items"]] == [
        ("weekly_report", False, False, False),
        ("sla_digest", True, True, False),
    ]
    # when they turn the weekly report on through the API, and the digest off on the page
    patched = client.patch(
        "/api/mail/subscriptions", {"weekly_report": True}, content_type="application/json"
    ).json()
    page = client.post("/account/mail/", {"weekly_report": "on"})
    # then both are their choices now
    assert [(i["kind"], i["subscribed"]) for i in patched["items"]] == [
        ("weekly_report", True),
        ("sla_digest", True),
    ]
    assert page.status_code == 302
    assert dict(MailSubscription.objects.filter(user=rep).values_list("kind", "subscribed")) == {
        "weekly_report": True,
        "sla_digest": False,
    }
    assert [
        e.data for e in Event.objects.filter(subject_id=rep.pk, kind__startswith="mail.").order_by("pk")
    ] == [
        {"kind": "weekly_report", "via": "api"},
        {"kind": "sla_digest", "via": "page"},
    ]
    assert b"Daily SLA digest" in client.get("/account/mail/").content


def _overdue_mql(owner: Any, name: str) -> Any:
    person = PersonFactory(first_name=name, last_name="Lead", stage="mql", owner=owner)
    # handed over on Friday 10:00 UTC: the first touch was due that afternoon (default SLA, Mon-Fri 09-17 UTC)
    StageChange.objects.filter(person=person, to_stage="mql").update(
        changed_at=dt.datetime(2026, 11, 13, 10, tzinfo=dt.UTC)
    )
    return person


def test_the_sla_digest_lists_overdue_mqls_and_sends_nothing_when_there_are_none(smtp_server: Any) -> None:
    # given rep Ray with an untouched MQL past its deadline, rep Sue with none, and their manager
    ray = UserFactory(username="ray", role=Role.SALES_REP)
    UserFactory(username="sue", role=Role.SALES_REP)
    _overdue_mql(ray, "Olga")
    # when the digest runs on Monday morning
    results = services.sla_digests_send(now=MONDAY_8)
    # then Ray gets it listing Olga, Sue gets nothing (recorded as empty, so not rebuilt every quarter hour)
    assert [(r.username, r.status, r.period) for r in results] == [
        ("ray", "sent", "2026-11-16"),
        ("sue", "empty", "2026-11-16"),
    ]
    assert len(smtp_server.received) == 1
    message = smtp_server.received[0].message
    assert message["Subject"] == "[Tandem] SLA digest 2026-11-16: 1 overdue, 0 due soon"
    text, html = _parts(message)
    assert "Your open MQLs: 1 overdue, 0 due soon for their first touch." in text
    assert "- Overdue: Olga Lead, due Fri 13 Nov 14:00 UTC" in text
    assert "Olga Lead" in html
    assert services.sla_digests_send(now=MONDAY_8 + dt.timedelta(hours=1)) == [
        services.SendResult("ray", "ray@example.com", "sla_digest", "2026-11-16", "already"),
        services.SendResult("sue", "sue@example.com", "sla_digest", "2026-11-16", "already"),
    ]


def test_a_managers_digest_lists_the_teams_mqls_with_their_owners(smtp_server: Any) -> None:
    # given manager Ola of a team with rep Ray, whose MQL is overdue, and rep Zed of another team with one too
    ola = UserFactory(username="ola", role=Role.SALES_MANAGER)
    team = TeamFactory(name="North", manager=ola)
    ray = UserFactory(username="ray", role=Role.SALES_REP, team=team, first_name="Ray", last_name="Reed")
    ola.team = team
    ola.save()
    _overdue_mql(ray, "Olga")
    _overdue_mql(UserFactory(username="zed", role=Role.SALES_REP), "Zoe")
    # when the digest goes to Ola only
    results = services.sla_digests_send(now=MONDAY_8, username="ola")
    # then it lists her team's MQL with its owner, and not the other team's
    assert [(r.username, r.status) for r in results] == [("ola", "sent")]
    text, _ = _parts(smtp_server.received[0].message)
    assert "Your teams' open MQLs: 1 overdue, 0 due soon for their first touch." in text
    assert "- Overdue: Olga Lead (Ray Reed), due Fri 13 Nov 14:00 UTC" in text
    assert "Zoe" not in text


def test_the_worker_sends_from_the_mail_hour_on_mondays_and_weekdays(smtp_server: Any, settings: Any) -> None:
    # given a marketer (weekly report) and a rep with an overdue MQL (digest)
    settings.MAIL_HOUR = 7
    _history()
    UserFactory(username="mia", role=Role.MARKETING)
    ray = UserFactory(username="ray2", role=Role.SALES_REP)
    _overdue_mql(ray, "Olga")
    # when the worker's quarter-hour run comes before 07:00, then at 08:00 on Monday, then on Tuesday
    early = services.scheduled_mail_run(now=MONDAY_8 - dt.timedelta(hours=2))
    monday = services.scheduled_mail_run(now=MONDAY_8)
    tuesday = services.scheduled_mail_run(now=MONDAY_8 + dt.timedelta(days=1))
    # then nothing before the hour; Monday the report and the digest; Tuesday the digest only
    assert early == []
    assert sorted((r.kind, r.username, r.status) for r in monday if r.status == "sent") == [
        ("sla_digest", "ray2", "sent"),
        ("weekly_report", "mia", "sent"),
    ]
    assert sorted((r.kind, r.username, r.status, r.period) for r in tuesday if r.status == "sent") == [
        ("sla_digest", "ray2", "sent", "2026-11-17"),
    ]


def test_the_worker_sends_nothing_without_smtp(settings: Any) -> None:
    # given no SMTP host
    settings.EMAIL_HOST = ""
    UserFactory(username="mia", role=Role.MARKETING)
    # when the worker runs on Monday morning, then nothing is claimed or sent
    assert services.scheduled_mail_run(now=MONDAY_8) == []
    assert not MailSend.objects.exists()


def test_the_commands_send_weekly_and_digest(smtp_server: Any) -> None:
    # given two subscribers of the weekly report and a rep who is not one
    _history()
    UserFactory(username="mia", role=Role.MARKETING)
    UserFactory(username="vic", role=Role.VIEWER)
    # when a dry run is asked, then it says who would get it and sends and records nothing
    out = io.StringIO()
    call_command("mail", "send-weekly", "--dry-run", stdout=out)
    assert "would_send" in out.getvalue() and "mia" in out.getvalue() and "vic" in out.getvalue()
    assert not MailSend.objects.exists() and smtp_server.received == []
    # when it is sent to one of them, then only she gets it
    out = io.StringIO()
    call_command("mail", "send-weekly", "--to", "mia", stdout=out)
    assert out.getvalue().splitlines()[-1] == "1 sent"
    assert [r.rcpt_tos for r in smtp_server.received] == [["mia@example.com"]]
    # when it is asked for a user who does not get it, or does not exist, then it says so
    with pytest.raises(CommandError, match="ray gets no weekly alignment report: has opted out"):
        call_command("mail", "send-weekly", "--to", "ray", stdout=io.StringIO())
    with pytest.raises(CommandError, match="no user named 'nobody'"):
        call_command("mail", "digest", "--to", "nobody", stdout=io.StringIO())


# ---- content "Send": e-mailed with a tracked link when SMTP is configured ----


@pytest.fixture
def huey_immediate() -> Any:
    from huey.contrib.djhuey import HUEY

    before = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = before


def test_a_sent_asset_arrives_with_a_tracked_link_and_the_click_is_recorded(
    smtp_server: Any, client: Any, huey_immediate: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a rep, their person who consented to e-mail, and a link asset
    rep = UserFactory(
        username="ray", role=Role.SALES_REP, email="ray@example.com", first_name="Ray", last_name="Reed"
    )
    person = PersonFactory(first_name="Ann", owner=rep, consent_email=True, email="ann@acme.example")
    asset = AssetFactory(title="Northwind case study", url="https://example.com/northwind.pdf")
    client.force_login(rep)
    # when the rep sends it through the API
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/enablement/assets/{asset.pk}/send",
            {"person_id": person.pk, "note": "As promised on the call."},
            content_type="application/json",
        )
    # then the API says it was e-mailed, and the mail arrived with the note and a tracked link
    assert response.status_code == 201
    assert (response.json()["emailed"], response.json()["delivery"]) == (True, "e-mailed with a tracked link")
    assert len(smtp_server.received) == 1
    got = smtp_server.received[0]
    assert got.rcpt_tos == ["ann@acme.example"]
    assert (got.message["Subject"], got.message["Reply-To"]) == ("Northwind case study", "ray@example.com")
    text, html = _parts(got.message)
    assert "As promised on the call." in text
    link = re.search(r"https://tandem\.example\.com(/l/\S+)", text)
    assert link is not None and link.group(0) in html
    tracked = TrackedLink.objects.get()
    assert (tracked.status, tracked.to_address, tracked.clicks) == ("sent", "ann@acme.example", 0)
    assert tracked.emailed_at is not None
    # when Ann opens the link twice (no session)
    first = Client().get(link.group(1))
    second = Client().get(link.group(1))
    # then she is sent to the asset, the first click is an "email_click" touchpoint, each click an event
    assert (first.status_code, first["Location"]) == (302, "https://example.com/northwind.pdf")
    assert second.status_code == 302
    clicks = Touchpoint.objects.filter(person=person, kind="email_click")
    assert [(t.channel, t.custom_fields["asset_id"]) for t in clicks] == [("outbound", asset.pk)]
    tracked.refresh_from_db()
    assert tracked.clicks == 2 and tracked.first_clicked_at is not None
    assert [
        e.data["clicks"] for e in Event.objects.filter(kind="integrations.link_clicked").order_by("pk")
    ] == [1, 2]
    # and a forged link is not found
    assert Client().get(link.group(1)[:-2] + "zz").status_code == 404


def test_a_send_to_a_person_without_email_consent_is_refused_and_changes_nothing(
    smtp_server: Any, client: Any
) -> None:
    # given SMTP configured and a person who has not consented to e-mail
    rep = UserFactory(username="ray", role=Role.SALES_REP)
    person = PersonFactory(first_name="Ann", last_name="Bell", owner=rep, consent_email=False)
    asset = AssetFactory(title="Deck")
    client.force_login(rep)
    before = (
        ContentUse.objects.count(),
        Touchpoint.objects.count(),
        Event.objects.count(),
        TrackedLink.objects.count(),
    )
    # when the rep sends the asset
    response = client.post(
        f"/api/enablement/assets/{asset.pk}/send", {"person_id": person.pk}, content_type="application/json"
    )
    # then it is refused naming the person, nothing is written and nothing sent
    assert response.status_code == 409
    assert response.json()["field"] == "person_id"
    assert response.json()["detail"].startswith("Ann Bell has not given consent to e-mail")
    assert (
        ContentUse.objects.count(),
        Touchpoint.objects.count(),
        Event.objects.count(),
        TrackedLink.objects.count(),
    ) == before
    assert smtp_server.received == []


def test_without_smtp_a_send_is_recorded_only_and_says_so(client: Any, settings: Any) -> None:
    # given no SMTP host, and a person without e-mail consent (recording a send made elsewhere needs none)
    settings.EMAIL_HOST = ""
    rep = UserFactory(username="ray", role=Role.SALES_REP)
    person = PersonFactory(owner=rep, consent_email=False, email="ann@acme.example")
    asset = AssetFactory(title="Deck")
    client.force_login(rep)
    # when the rep sends it through the API and through the page
    api = client.post(
        f"/api/enablement/assets/{asset.pk}/send", {"person_id": person.pk}, content_type="application/json"
    )
    page = client.post(f"/enablement/assets/{asset.pk}/send/", {"email": "ann@acme.example"}, follow=True)
    # then both record the send and say plainly it was not e-mailed
    assert api.status_code == 201
    assert (api.json()["emailed"], api.json()["delivery"]) == (False, "recorded only, not e-mailed")
    assert (
        f"Recorded “Deck” as shared with {person}. Not e-mailed: no mail server is set up, so send it yourself."
        in page.content.decode()
    )
    assert "recorded only, not e-mailed" in client.get(f"/enablement/assets/{asset.pk}/").content.decode()
    assert ContentUse.objects.filter(person=person, how="sent").count() == 2
    assert not TrackedLink.objects.exists()
    assert [e.data["delivery"] for e in Event.objects.filter(kind="enablement.asset_sent")] == [
        "recorded only, not e-mailed"
    ] * 2


def test_erasing_the_person_removes_the_tracked_link_and_its_address(
    smtp_server: Any, huey_immediate: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given an asset e-mailed to Ann with a tracked link
    from tandem.enablement.services import asset_send
    from tandem.privacy.services import person_erase

    admin = UserFactory(username="root", role=Role.ADMIN)
    person = PersonFactory(first_name="Ann", consent_email=True, email="ann@acme.example")
    with django_capture_on_commit_callbacks(execute=True):
        asset_send(asset=AssetFactory(title="Deck"), person=person, by_user=admin)
    link = re.search(r"https://tandem\.example\.com(/l/\S+)", _parts(smtp_server.received[0].message)[0])
    assert link is not None and TrackedLink.objects.count() == 1
    # when Ann is erased
    person_erase(person=person, reason="Asked to be forgotten", by_user=admin, via="ui")
    # then the link row (with her address) is gone and the link answers 404, recording nothing
    assert not TrackedLink.objects.exists()
    assert Client().get(link.group(1)).status_code == 404
    assert not Touchpoint.objects.filter(kind="email_click").exists()


def test_the_send_button_says_e_mailed_only_when_a_mail_went_out(
    smtp_server: Any, client: Any, huey_immediate: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # given a rep, their consenting person and an asset, with SMTP configured
    rep = UserFactory(username="ray", role=Role.SALES_REP, email="ray@example.com")
    person = PersonFactory(first_name="Ann", last_name="Lee", owner=rep, consent_email=True, email="ann@acme.example")
    asset = AssetFactory(title="Northwind case study", url="https://example.com/northwind.pdf")
    client.force_login(rep)
    # when the rep presses Send in the person's panel
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/enablement/assets/{asset.pk}/send/", {"person_id": person.pk}, HTTP_HX_REQUEST="true")
    # then the panel says it was e-mailed, and it was
    assert f"E-mailed “Northwind case study” to {person} with a tracked link." in response.content.decode()
    assert len(smtp_server.received) == 1
