from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from tandem.core.models import Event
from tandem.crm.models import Account, Deal, LostReason, Person, StageChange
from tandem.crm.services import activity_log, deal_create
from tandem.feedback.models import Question
from tests.campaigns.factories import CampaignFactory, TouchpointFactory
from tests.crm.factories import AccountFactory, PersonFactory
from tests.users.factories import UserFactory

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)


def _names(body: bytes) -> list[str]:
    return re.findall(r'<a class="cell-main" href="/people/\d+/">([^<]+)</a>', body.decode())


def _link(body: bytes, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="([^"]+)"', body.decode())
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.fixture
def rep(db, client):
    user = UserFactory(role="sales_rep", first_name="Rita", last_name="Rep")
    client.force_login(user)
    return user


def test_people_list_shows_the_columns_newest_first(client, rep):
    # given
    account = AccountFactory(owner=rep, name="Northwind")
    PersonFactory(owner=rep, first_name="Old", last_name="One", created_at=T0)
    PersonFactory(
        first_name="New",
        last_name="One",
        email="new@northwind.example",
        account=account,
        owner=rep,
        original_channel="webinar",
        stage="mql",
        created_at=T0 + dt.timedelta(days=1),
    )
    # when
    response = client.get("/people/")
    # then
    body = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert _names(response.content) == ["New One", "Old One"]
    assert (
        '<td class="hide-narrow">new@northwind.example</td> <td>Northwind</td> <td><span class="badge stage-mql">MQL</span> </td> '
        "<td>Rita Rep</td> <td>Webinar</td>"
    ) in body
    assert "4 Mar 2025" in body


def test_people_list_query_count_is_pinned(client, rep, django_assert_num_queries):
    # given 60 people with accounts and owners: more than one page
    for _ in range(60):
        PersonFactory(owner=rep, account=AccountFactory(owner=rep))
    # when: session, user, the user's permissions (user and group), one page of people, the owner choices
    with django_assert_num_queries(6):
        response = client.get("/people/")
    # then
    assert len(_names(response.content)) == 50


def test_people_list_filters_and_searches(client, rep):
    # given
    PersonFactory(first_name="Maria", last_name="Weber", stage="mql", owner=rep, original_channel="webinar")
    PersonFactory(first_name="Mark", last_name="Olsen", stage="lead", original_channel="webinar")
    PersonFactory(first_name="Anna", last_name="Mark", email="anna@mark.example", stage="lead")
    # when marketing, who sees everyone (a rep sees only their own: tandem.users.access), filters the list
    client.force_login(UserFactory(role="marketing"))
    by_stage = client.get("/people/?stage=lead")
    by_owner = client.get(f"/people/?owner={rep.pk}")
    unassigned = client.get("/people/?owner=none")
    by_channel = client.get("/people/?channel=webinar&stage=lead")
    by_name = client.get("/people/?q=mar")
    by_email = client.get("/people/?q=anna@")
    # then
    assert _names(by_stage.content) == ["Anna Mark", "Mark Olsen"]
    assert _names(by_owner.content) == ["Maria Weber"]
    assert _names(unassigned.content) == ["Anna Mark", "Mark Olsen"]
    assert _names(by_channel.content) == ["Mark Olsen"]
    assert _names(by_name.content) == ["Maria Weber", "Mark Olsen"]
    assert _names(by_email.content) == ["Anna Mark"]
    assert b'<option value="lead" selected>Lead</option>' in by_stage.content
    assert f'<option value="{rep.pk}" selected>Rita Rep</option>'.encode() in by_owner.content
    assert b"sorted by name" in by_name.content


def test_following_older_and_newer_links_walks_every_person_once(client, rep):
    # given 120 people on 3 timestamps: ties everywhere
    for i in range(120):
        PersonFactory(owner=rep, created_at=T0 + dt.timedelta(hours=i % 3))
    expected = [p.full_name for p in Person.objects.order_by("-created_at", "-id")]
    # when following "Older" to the end, then "Newer" back to the start
    pages, url = [], "/people/"
    while url:
        response = client.get(url)
        pages.append(response.content)
        url = _link(response.content, "next") or ""
    back, url = [], _link(pages[-1], "prev") or ""
    while url:
        response = client.get(url)
        back.insert(0, _names(response.content))
        url = _link(response.content, "prev") or ""
    # then
    assert [len(_names(p)) for p in pages] == [50, 50, 20]
    assert [n for p in pages for n in _names(p)] == expected
    assert back == [_names(p) for p in pages[:-1]]
    assert b'aria-disabled="true">\xe2\x86\x90 Newer' in pages[0]
    assert b'aria-disabled="true">Older \xe2\x86\x92' in pages[-1]


def test_older_link_keeps_the_filters(client, rep):
    # given
    for _ in range(51):
        PersonFactory(owner=rep, stage="mql")
    # when
    first = client.get("/people/?stage=mql&q=")
    # then
    link = _link(first.content, "next") or ""
    assert link.startswith("/people/?stage=mql&cursor=")
    assert len(_names(client.get(link).content)) == 1


def test_htmx_request_gets_only_the_results_and_skips_the_owner_query(client, rep, django_assert_num_queries):
    # given
    PersonFactory(owner=rep, first_name="Only", last_name="Row")
    # when: session, user, permissions (user and group), the page
    with django_assert_num_queries(5):
        partial = client.get("/people/?stage=lead", headers={"HX-Request": "true"})
    restore = client.get("/people/", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    # then
    assert partial.content.lstrip().startswith(b'<div id="people-results">')
    assert b"<html" not in partial.content
    assert _names(partial.content) == ["Only Row"]
    assert b'hx-get="/people/?' in partial.content or b"aria-disabled" in partial.content
    assert b"<html" in restore.content
    assert "HX-Request" in partial["Vary"]


def test_bad_filter_value_answers_422_with_the_message(client, rep):
    # given
    PersonFactory(owner=rep)
    # when
    response = client.get("/people/?stage=champion")
    htmx = client.get("/people/?owner=nobody", headers={"HX-Request": "true"})
    # then
    assert response.status_code == 422
    assert b"unknown lifecycle stage &#x27;champion&#x27;" in response.content
    assert _names(response.content) == []
    assert htmx.status_code == 422
    assert b"owner must be a user id or &#x27;none&#x27;, got &#x27;nobody&#x27;" in htmx.content


def test_person_page_shows_firmographics_journey_history_deals_activities_questions(
    client, rep, django_assert_num_queries
):
    # given
    account = AccountFactory(owner=rep, name="Northwind", domain="northwind.example", industry="logistics", country="NL")
    campaign = CampaignFactory(name="Spring webinar")
    person = PersonFactory(
        first_name="Maria",
        last_name="Weber",
        job_title="COO",
        phone="+31 20 555",
        account=account,
        owner=rep,
        consent_email=True,
        original_channel="webinar",
        original_campaign=campaign,
    )
    TouchpointFactory(
        person=person, occurred_at=T0 + dt.timedelta(days=2), channel="direct", kind="demo_request"
    )
    TouchpointFactory(person=person, occurred_at=T0, channel="webinar", kind="webinar", campaign=campaign)
    deal_create(person=person, amount=Decimal("24000"), name="Platform", by_user=rep)
    activity_log(person=person, kind="call", user=rep, outcome="connected", notes="Wants a pilot")
    Question.objects.create(
        person=person, asked_at=T0, text="Does it do SSO?", heard_by=rep, is_objection=True
    )
    # when: session, user, perms (user, group), person, touchpoints, stage history, deals, activities, questions,
    # and the activity kinds the quick-log box offers
    with django_assert_num_queries(11):
        response = client.get(f"/people/{person.pk}/")
    # then
    body = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert "<h1>Maria Weber</h1>" in body
    assert "<dt>Industry</dt><dd>logistics</dd>" in body
    assert "<dt>Size</dt><dd>51–200</dd>" in body
    assert "<dt>Country</dt><dd>NL</dd>" in body
    assert "<dt>Phone</dt><dd>+31 20 555</dd>" in body
    assert "<dt>Consent</dt><dd>Email yes · Calls no</dd>" in body
    assert body.index("Webinar attended") < body.index("Demo requested")
    assert "Campaign: Spring webinar" in body
    assert 'New<span class="arrow">→</span>Lead' in body
    assert 'Lead<span class="arrow">→</span>Opportunity' in body
    assert "by Rita Rep · deal" in body
    assert "24,000 USD" in body and "Platform" in body
    assert "Wants a pilot" in body
    assert "Does it do SSO?" in body and "objection" in body
    assert '<option value="customer">Customer</option>' in body
    assert '<option value="lead">' not in body


def test_person_page_of_an_unknown_id_is_404_with_the_message(client, rep):
    # given / when
    response = client.get("/people/999999/")
    huge = client.get("/people/99999999999999999999999/")
    # then
    assert response.status_code == 404
    assert b"no person with id 999999" in response.content
    assert huge.status_code == 404


def test_stage_change_over_htmx_swaps_the_panel_with_the_new_history(client, rep):
    # given
    person = PersonFactory(owner=rep)
    # when
    response = client.post(
        f"/people/{person.pk}/stage/",
        {"to_stage": "mql", "reason": "asked for pricing"},
        headers={"HX-Request": "true"},
    )
    # then
    body = " ".join(response.content.decode().split())
    assert response.status_code == 200
    assert body.startswith('<section class="card" id="stage-panel">')
    assert "Moved to MQL." in body
    assert "by Rita Rep · asked for pricing" in body
    change = StageChange.objects.filter(person=person).latest("id")
    assert (change.from_stage, change.to_stage, change.by_user, change.reason) == (
        "lead",
        "mql",
        rep,
        "asked for pricing",
    )
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "mql"


def test_refused_stage_change_answers_409_and_changes_nothing(client, rep):
    # given
    person = PersonFactory(owner=rep, stage="opportunity")
    before = StageChange.objects.count()
    # when
    response = client.post(
        f"/people/{person.pk}/stage/", {"to_stage": "lead", "reason": "oops"}, headers={"HX-Request": "true"}
    )
    unknown = client.post(
        f"/people/{person.pk}/stage/", {"to_stage": "champion"}, headers={"HX-Request": "true"}
    )
    # then
    assert response.status_code == 409
    assert "moving from Opportunity to Lead is not allowed" in response.content.decode()
    assert 'value="oops"' in response.content.decode()
    assert unknown.status_code == 422
    assert b"unknown lifecycle stage &#x27;champion&#x27;" in unknown.content
    assert StageChange.objects.count() == before
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "opportunity"


def test_stage_change_without_javascript_redirects_with_a_message(client, rep):
    # given
    person = PersonFactory(owner=rep)
    # when
    response = client.post(
        f"/people/{person.pk}/stage/", {"to_stage": "sal", "reason": "call booked"}, follow=True
    )
    # then
    assert response.redirect_chain == [(f"/people/{person.pk}/", 302)]
    assert b"Moved to SAL." in response.content
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "sal"


def test_viewer_cannot_change_a_stage_or_create_a_person(client, db):
    # given
    person = PersonFactory()
    client.force_login(UserFactory(role="viewer"))
    before = (StageChange.objects.count(), Person.objects.count())
    # when
    stage = client.post(f"/people/{person.pk}/stage/", {"to_stage": "mql"})
    create = client.post("/people/new/", {"email": "x@y.example", "stage": "lead"})
    page = client.get(f"/people/{person.pk}/")
    # then
    assert (stage.status_code, create.status_code) == (403, 403)
    assert (StageChange.objects.count(), Person.objects.count()) == before
    assert b"Change stage" not in page.content
    assert b"Add person" not in client.get("/people/").content


def test_create_person_from_the_web_form(client, rep):
    # given
    form = {
        "email": "sara.lopez@initech.example",
        "first_name": "Sara",
        "last_name": "Lopez",
        "company": "Initech",
        "job_title": "CFO",
        "owner": str(rep.pk),
        "stage": "mql",
        "original_channel": "referral",
        "consent_email": "on",
    }
    # when
    response = client.post("/people/new/", form)
    # then
    person = Person.objects.get(email="sara.lopez@initech.example")
    assert response.status_code == 302 and response["Location"] == f"/people/{person.pk}/"
    assert (person.full_name, person.job_title, person.owner, person.lifecycle_stage) == (
        "Sara Lopez",
        "CFO",
        rep,
        "mql",
    )
    assert (person.account.name, person.account.domain) == ("Initech", "initech.example")
    assert (person.original_channel, person.consent_email, person.consent_calls) == ("referral", True, False)
    assert StageChange.objects.get(person=person).by_user == rep


def test_create_person_refusals_change_nothing(client, rep):
    # given
    PersonFactory(owner=rep, email="taken@initech.example")
    before = (Person.objects.count(), Account.objects.count())
    # when
    duplicate = client.post(
        "/people/new/", {"email": "TAKEN@initech.example", "company": "Initech", "stage": "lead"}
    )
    malformed = client.post("/people/new/", {"email": "not-an-email", "company": "Initech", "stage": "lead"})
    bad_stage = client.post("/people/new/", {"email": "ok@initech.example", "stage": "sal"})
    # then
    assert duplicate.status_code == 409
    assert b"a person with email taken@initech.example already exists" in duplicate.content
    assert malformed.status_code == 422
    assert b"email &#x27;not-an-email&#x27; is not a valid email address: an email address must have an @-sign" in malformed.content
    assert bad_stage.status_code == 422
    assert b"Select a valid choice" in bad_stage.content
    assert (Person.objects.count(), Account.objects.count()) == before


def test_edit_person_records_the_change(client, rep):
    # given
    person = PersonFactory(owner=rep, first_name="Sara", last_name="Lopez")
    # when
    form = client.get(f"/people/{person.pk}/edit/")
    response = client.post(
        f"/people/{person.pk}/edit/",
        {"first_name": "Sarah", "last_name": "Lopez", "job_title": "CEO", "phone": ""},
    )
    # then
    assert form.status_code == 200 and b'value="Sara"' in form.content
    assert response.status_code == 302
    person.refresh_from_db()
    assert (person.first_name, person.name_key, person.job_title) == ("Sarah", "sarah lopez", "CEO")
    event = Event.objects.get(kind="person.updated", subject_id=person.pk)
    assert event.data["changes"]["first_name"] == ["Sara", "Sarah"]


def test_open_and_close_deals_from_the_person_page(client, rep):
    # given
    person = PersonFactory(owner=rep)
    # when
    opened = client.post(f"/people/{person.pk}/deals/", {"name": "Pilot", "amount": "1500.50"}, follow=True)
    deal = Deal.objects.get(person=person)
    lost_without_reason = client.post(f"/people/deals/{deal.pk}/close/", {"outcome": "lost"}, follow=True)
    lost = client.post(
        f"/people/deals/{deal.pk}/close/", {"outcome": "lost", "lost_reason": "No budget"}, follow=True
    )
    again = client.post(f"/people/deals/{deal.pk}/close/", {"outcome": "won"}, follow=True)
    # then
    assert b"Deal Pilot opened." in opened.content
    assert b"a lost deal needs a lost reason" in lost_without_reason.content
    assert b"Deal Pilot closed as lost." in lost.content
    assert f"deal {deal.pk} is already lost".encode() in again.content
    deal.refresh_from_db()
    assert (deal.amount, deal.stage, deal.lost_reason.name) == (Decimal("1500.50"), "lost", "No budget")
    assert LostReason.objects.count() == 1


def test_bad_deal_amounts_are_refused_without_a_deal(client, rep):
    # given
    person = PersonFactory(owner=rep)
    # when
    responses = [
        client.post(f"/people/{person.pk}/deals/", {"amount": amount}, follow=True)
        for amount in ("-5", "lots", "NaN", "1e20")
    ]
    # then
    texts = [r.content.decode() for r in responses]
    assert "amount must not be negative, got -5" in texts[0]
    assert "amount: Enter a number. (got &#x27;lots&#x27;)" in texts[1]
    assert "amount: Enter a number. (got &#x27;NaN&#x27;)" in texts[2]
    assert "amount: Ensure that there are no more than 14 digits in total. (got &#x27;1e20&#x27;)" in texts[3]
    assert Deal.objects.count() == 0


def test_rep_can_not_open_deals_for_a_viewer_nor_marketing(client, db):
    # given
    person = PersonFactory()
    client.force_login(UserFactory(role="marketing"))
    # when
    response = client.post(f"/people/{person.pk}/deals/", {"amount": "100"})
    # then
    assert response.status_code == 403
    assert Deal.objects.count() == 0


def _csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    import csv
    import io

    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_people_csv_holds_everyone_matching_the_filters_with_labels_and_is_recorded(client, rep, settings):
    # given three people, two of them webinar leads, a rep who sees only their own and a marketer who sees all
    settings.TIME_ZONE = "UTC"
    account = AccountFactory(name="Northwind")
    PersonFactory(
        first_name="Maria", last_name="Weber", email="maria@northwind.example", account=account, stage="lead",
        owner=rep, original_channel="webinar", created_at=T0,
    )  # fmt: skip
    PersonFactory(first_name="Mark", last_name="Olsen", stage="lead", original_channel="webinar", created_at=T0)
    PersonFactory(first_name="Anna", last_name="Mark", stage="mql", original_channel="webinar", created_at=T0)
    marketer = UserFactory(role="marketing")
    client.force_login(marketer)
    # when the marketer downloads the list filtered to webinar leads
    response = client.get("/people/?channel=webinar&stage=lead&format=csv")
    # then every matching person is a row, with labels and full names, newest first (ties by id)
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    assert response["Content-Disposition"] == 'attachment; filename="people.csv"'
    rows = _csv(response)
    assert [r["name"] for r in rows] == ["Mark Olsen", "Maria Weber"]
    assert {k: rows[1][k] for k in ("email", "company", "stage", "owner", "original_channel", "created")} == {
        "email": "maria@northwind.example", "company": "Northwind", "stage": "Lead", "owner": "Rita Rep",
        "original_channel": "Webinar", "created": "2025-03-03 09:00",
    }  # fmt: skip
    # and the download is recorded with its filters
    event = Event.objects.get(kind="crm.people_exported")
    assert (event.actor_id, event.data) == (marketer.pk, {"channel": "webinar", "stage": "lead"})
    # when the rep downloads the whole list, then only their own people are in it
    client.force_login(rep)
    assert [r["name"] for r in _csv(client.get("/people/?format=csv"))] == ["Maria Weber"]


def test_people_csv_with_a_bad_filter_is_refused_on_the_page_and_nothing_is_recorded(client, rep):
    # given / when a filter value that does not exist
    response = client.get("/people/?stage=nonsense&format=csv", follow=True)
    # then the list says why, no file is sent, no export is recorded
    assert response["Content-Type"].startswith("text/html")
    assert "unknown lifecycle stage &#x27;nonsense&#x27;" in response.content.decode()
    assert not Event.objects.filter(kind="crm.people_exported").exists()


def test_the_people_list_links_its_csv_with_the_filters_shown(client, rep):
    # given / when
    body = client.get("/people/?stage=lead&q=mar").content.decode()
    # then
    assert 'href="/people/?q=mar&amp;stage=lead&amp;format=csv" download>' in body
