"""The audit log: each filter lists exactly the right entries, pages walk both ways, only admins read it (page, API,
command), and the old → new values show."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tandem.core.csvsafe import cell_is_safe
from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.crm.activities.services import activity_delete, activity_record
from tandem.crm.agenda.services import task_complete, task_create
from tandem.crm.audit import selectors
from tandem.crm.models import StageChange
from tandem.crm.pipelines.services import deal_contact_add
from tandem.crm.services import (
    deal_close,
    deal_create,
    person_assign_owner,
    person_change_stage,
    person_create,
    person_merge,
    person_update,
)
from tandem.feedback.services import question_record
from tandem.users.models import Role
from tandem.users.services import user_set_role
from tests.crm.factories import AccountFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
# Session and user, the users for the "by" filter, the events, the stage changes, then one query per kind of
# thing the page names: people, deals, users, pipeline stages.
PAGE_QUERIES = 9
# Token or session and user, the events, the stage changes: no names looked up.
API_QUERIES = 4


def _key(entry: selectors.AuditEntry) -> tuple[str, str, int | None]:
    return entry.source, entry.kind, entry.subject_id


def _keys(**filters: object) -> list[tuple[str, str, int | None]]:
    return [_key(e) for e in selectors.audit_page(limit=200, **filters).items]  # type: ignore[arg-type]


@pytest.fixture
def world():  # type: ignore[no-untyped-def]
    """Maria's history (and a duplicate of hers merged in), with Bob's beside it as noise."""
    admin = UserFactory(role=Role.ADMIN, username="ada", time_zone="Europe/Berlin")
    rep = UserFactory(role=Role.SALES_REP, username="rita", first_name="Rita", last_name="Rep")
    maria = person_create(
        email="maria@northwind.example", first_name="Maria", created_at=T0, owner=rep, by_user=rep
    )
    twin = person_create(email="m.weber@northwind.example", first_name="M.", created_at=T0, by_user=admin)
    bob = person_create(email="bob@globex.example", first_name="Bob", created_at=T0 + DAY, by_user=admin)
    # Bob's own deal, on which Maria is put as a contact.
    bobs_deal = deal_create(
        person=bob, amount=Decimal("500"), name="Globex pilot", created_at=T0 + DAY, by_user=admin
    )
    person_update(person=twin, job_title="CTO", by_user=admin)
    # A note about the twin, deleted: only its data names the twin once the merge has moved the rest.
    twin_note = activity_record(person=twin, kind="note", user=admin, by_user=admin)
    twin_note_id = twin_note.pk
    activity_delete(activity=twin_note, by_user=admin)
    person_update(person=maria, first_name="Mia", by_user=rep)
    person_assign_owner(person=maria, owner=admin, by_user=admin, reason="rita is away")
    deal = deal_create(
        person=maria, amount=Decimal("1000"), name="Northwind platform", created_at=T0 + DAY, by_user=rep
    )
    deal_close(deal=deal, won=True, at=T0 + 2 * DAY, amount=Decimal("1200"), by_user=rep)
    call = activity_record(person=maria, kind="call", user=rep, by_user=rep)
    note = activity_record(person=maria, kind="note", user=rep, by_user=rep)
    note_id = note.pk
    activity_delete(activity=note, by_user=admin, reason="logged twice")
    deal_contact_add(deal=bobs_deal, person=maria, role="champion", by_user=admin)
    question = question_record(person=maria, text="Does it run on premises?", by_user=rep)
    task = task_create(
        title="Send the contract", due_at=timezone.now() + 3 * DAY, by_user=admin, person_id=maria.pk
    )
    task_complete(task=task, by_user=admin)
    person_update(person=bob, first_name="Robert", by_user=admin)
    person_merge(survivor=maria, duplicate=twin, by_user=admin, reason="same person")
    user_set_role(user=rep, role=Role.SALES_MANAGER, by_user=admin)
    Event.objects.create(
        kind="signin.failed", subject_type="users.user", subject_id=rep.pk, occurred_at=T0 + 5 * DAY,
        data={"username": "rita", "ip": "203.0.113.9"},
    )  # fmt: skip
    return SimpleNamespace(
        admin=admin, rep=rep, maria=maria, twin_id=twin.pk, bob=bob, deal=deal, bobs_deal=bobs_deal,
        call=call, note_id=note_id, twin_note_id=twin_note_id, question=question, task=task,
    )  # fmt: skip


# ---- the filters ----


def test_a_persons_log_holds_their_events_their_records_events_the_merged_twin_and_their_stage_changes(world):
    # given Maria's history and Bob's
    w = world
    # when her log is asked for by e-mail
    keys = _keys(person="maria@northwind.example")
    # then exactly her entries, newest first: as subject, named in data (a contact on Bob's deal, the deleted
    # note, the question), her deal's, task's and activity's own events, the twin's, and the stage changes
    # (the twin's first stage moved over to her by the merge)
    assert keys == [
        ("event", "person.merged", w.maria.pk),
        ("event", "task.completed", w.task.pk),
        ("event", "task.created", w.task.pk),
        ("event", "question.recorded", w.question.pk),
        ("event", "deal.contact_added", w.bobs_deal.pk),
        ("event", "activity.deleted", w.note_id),
        ("event", "activity.logged", w.note_id),
        ("event", "activity.logged", w.call.pk),
        ("event", "person.owner_assigned", w.maria.pk),
        ("event", "person.updated", w.maria.pk),
        ("event", "activity.deleted", w.twin_note_id),
        ("event", "activity.logged", w.twin_note_id),
        ("event", "person.updated", w.maria.pk),  # the twin's, moved onto her by the merge
        ("stage_change", "person.stage_changed", w.maria.pk),
        ("event", "deal.won", w.deal.pk),
        ("stage_change", "person.stage_changed", w.maria.pk),
        ("event", "deal.created", w.deal.pk),
        ("stage_change", "person.stage_changed", w.maria.pk),
        ("stage_change", "person.stage_changed", w.maria.pk),
    ]
    # and by id the same, while the merged-away e-mail still finds her
    assert _keys(person=str(w.maria.pk)) == keys
    assert _keys(person="M.Weber@northwind.example") == keys


def test_a_persons_stage_changes_carry_who_the_rule_and_its_version(world):
    # given a move made by a rule
    person_change_stage(
        person=world.bob, to_stage="disqualified", rule="definition:mql", rule_version=3, reason="spam"
    )
    # when Bob's stage changes are listed
    page = selectors.audit_page(person="bob@globex.example", kind="person.stage_changed")
    # then newest first with stage, rule and version, who acted, and the old and new stage
    rows = [
        (e.actor_username, e.rule, e.rule_version, e.reason, [(c.field, c.old, c.new) for c in e.changes])
        for e in page.items
    ]
    assert rows == [
        (None, "definition:mql", 3, "spam", [("lifecycle_stage", "opportunity", "disqualified")]),
        ("ada", "", None, f"deal {world.bobs_deal.pk} opened", [("lifecycle_stage", "lead", "opportunity")]),
        ("ada", "", None, "created", [("lifecycle_stage", None, "lead")]),
    ]


def test_a_record_filter_lists_that_records_own_entries(world):
    # given the history
    w = world
    # when one deal, one person (as record) and all accounts are asked for
    deal = _keys(record_type="crm.deal", record_id=w.deal.pk)
    person = _keys(record_type="crm.person", record_id=w.bob.pk)
    # then the deal's own events; the person's own events and stage changes (not what merely names them)
    assert deal == [("event", "deal.won", w.deal.pk), ("event", "deal.created", w.deal.pk)]
    assert person == [
        ("event", "person.updated", w.bob.pk),
        ("stage_change", "person.stage_changed", w.bob.pk),
        ("stage_change", "person.stage_changed", w.bob.pk),
    ]
    assert _keys(record_type="crm.account") == []


def test_the_user_filter_lists_what_one_user_did_by_username_or_id(world):
    # given the history
    w = world
    # when the admin's doings are asked for
    by_name = _keys(user="ada")
    # then exactly the events and stage changes she is recorded doing
    assert by_name == [
        ("event", "user.role_changed", w.rep.pk),
        ("event", "person.merged", w.maria.pk),
        ("event", "person.updated", w.bob.pk),
        ("event", "task.completed", w.task.pk),
        ("event", "task.created", w.task.pk),
        ("event", "deal.contact_added", w.bobs_deal.pk),
        ("event", "activity.deleted", w.note_id),
        ("event", "person.owner_assigned", w.maria.pk),
        ("event", "activity.deleted", w.twin_note_id),
        ("event", "activity.logged", w.twin_note_id),
        ("event", "person.updated", w.maria.pk),
        ("stage_change", "person.stage_changed", w.bob.pk),
        ("stage_change", "person.stage_changed", w.bob.pk),
        ("event", "deal.created", w.bobs_deal.pk),
        ("stage_change", "person.stage_changed", w.maria.pk),  # the twin's first stage, moved onto her
    ]
    assert _keys(user=str(w.admin.pk)) == by_name


def test_the_kind_filter_takes_one_kind_or_a_family(world):
    # given the history
    w = world
    # when one kind, a family and the stage changes are asked for
    won = _keys(kind="deal.won")
    deals = _keys(kind="deal.*")
    signins = _keys(kind="signin.*")
    stages = _keys(kind="person.stage_changed", person="bob@globex.example")
    # then
    assert won == [("event", "deal.won", w.deal.pk)]
    assert deals == [
        ("event", "deal.contact_added", w.bobs_deal.pk),
        ("event", "deal.won", w.deal.pk),
        ("event", "deal.created", w.deal.pk),
        ("event", "deal.created", w.bobs_deal.pk),
    ]
    assert signins == [("event", "signin.failed", w.rep.pk)]
    assert stages == [("stage_change", "person.stage_changed", w.bob.pk)] * 2


def test_the_time_filter_takes_since_inclusive_and_until_exclusive(world):
    # given entries at T0, T0 + 1 day and T0 + 2 days (and the ones written now)
    w = world
    # when the second day is asked for
    keys = _keys(since=T0 + DAY, until=T0 + 2 * DAY)
    # then the deals opened that day and Bob's and Maria's moves, not the close at T0 + 2 days; all at one
    # moment, so the stage changes (which follow the events of their moment) come first
    assert keys == [
        ("stage_change", "person.stage_changed", w.maria.pk),
        ("stage_change", "person.stage_changed", w.bob.pk),
        ("stage_change", "person.stage_changed", w.bob.pk),
        ("event", "deal.created", w.deal.pk),
        ("event", "deal.created", w.bobs_deal.pk),
    ]
    # and a naive moment counts as UTC
    assert _keys(since=(T0 + DAY).replace(tzinfo=None), until=(T0 + 2 * DAY).replace(tzinfo=None)) == keys


def test_filters_combine(world):
    # given the history
    w = world
    # when Maria's log is narrowed to what the rep did on deals
    keys = _keys(person=str(w.maria.pk), user="rita", kind="deal.*")
    # then
    assert keys == [("event", "deal.won", w.deal.pk), ("event", "deal.created", w.deal.pk)]


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"person": "nobody@example.com"}, "person"),
        ({"person": "not an e-mail"}, "person"),
        ({"user": "ghost"}, "user"),
        ({"kind": "DROP TABLE"}, "kind"),
        ({"record_type": "deal"}, "record_type"),
        ({"record_id": 4}, "record_type"),
        ({"since": T0, "until": T0}, "until"),
        ({"cursor": "garbage"}, "cursor"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_filters_are_refused_naming_the_field(world, filters, field):
    # when a filter is wrong
    with pytest.raises(ValidationFailed) as refused:
        selectors.audit_page(**filters)
    # then the refusal names it
    assert refused.value.field == field


# ---- paging ----


def test_pages_walk_forward_and_back_across_events_and_stage_changes_of_the_same_moment(world):
    # given Maria's 19 entries, some of them at one moment from both sources
    everything = _keys(person="maria@northwind.example")
    # when they are walked 4 at a time, older and then newer again
    pages, cursor = [], ""
    while True:
        page = selectors.audit_page(person="maria@northwind.example", limit=4, cursor=cursor)
        pages.append(page)
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    back = selectors.audit_page(person="maria@northwind.example", limit=4, cursor=pages[-1].prev_cursor or "")
    # then every entry comes once in order; the first page has no newer one; going back gives the page before
    assert [_key(e) for p in pages for e in p.items] == everything
    assert [len(p.items) for p in pages] == [4, 4, 4, 4, 3]
    assert pages[0].prev_cursor is None and pages[-1].next_cursor is None
    assert [_key(e) for e in back.items] == [_key(e) for e in pages[-2].items]
    assert back.next_cursor is not None and back.prev_cursor is not None


def test_a_cursor_of_another_list_is_refused(world):
    # given a cursor of the people list
    from tandem.crm.selectors import people_list

    other = people_list(limit=1).next_cursor
    # when it is handed to the audit log
    with pytest.raises(ValidationFailed) as refused:
        selectors.audit_page(cursor=other or "")
    # then
    assert refused.value.field == "cursor"


# ---- old and new values ----


def test_old_and_new_values_are_read_from_every_shape_services_store():
    # given the data of a profile edit, an owner change, a team's calendar and a deal's move
    shapes = {
        "person.updated": {"changes": {"first_name": ["Maria", "Mia"]}},
        "person.owner_assigned": {"from": None, "to": 7},
        "team.calendar_changed": {
            "from": {"time_zone": "UTC", "calendar": {}},
            "to": {"time_zone": "Europe/Berlin", "calendar": {}},
        },
        "deal.moved": {"amount": "10.00", "from_stage": 1, "to_stage": 2, "to_stage_name": "Won"},
        "deal.contact_changed": {"person": 3, "role": {"from": "other", "to": "champion"}},
        "enablement.asset_updated": {"changed": {"title": ["A", "B"]}},
        "definition.published": {"stage": "mql", "changes": ["Added: score ≥ 50"]},
    }
    # when each is read
    read = {
        kind: ([(c.field, c.old, c.new) for c in changes], notes, details)
        for kind, data in shapes.items()
        for changes, notes, details in [selectors.entry_changes(kind=kind, data=data)]
    }
    # then
    assert read == {
        "person.updated": ([("first_name", "Maria", "Mia")], [], {}),
        "person.owner_assigned": ([("owner", None, 7)], [], {}),
        "team.calendar_changed": ([("time_zone", "UTC", "Europe/Berlin")], [], {}),
        "deal.moved": ([("pipeline_stage", 1, 2)], [], {"amount": "10.00"}),
        "deal.contact_changed": ([("role", "other", "champion")], [], {"person": 3}),
        "enablement.asset_updated": ([("title", "A", "B")], [], {}),
        "definition.published": ([], ["Added: score ≥ 50"], {"stage": "mql"}),
    }


def test_a_close_that_changes_the_amount_records_its_old_and_new_value(world):
    # given the deal won at 1,200 that was opened at 1,000
    event = Event.objects.get(kind="deal.won")
    # then the event says what changed besides the stage
    assert event.data["changes"] == {"amount": ["1000.00", "1200.00"]}


def test_described_entries_name_records_users_and_stages(world):
    # given the deal's close, the owner change and the deleted note
    w = world
    page = selectors.audit_page(person=str(w.maria.pk), limit=200)
    # when they are described for the page
    selectors.audit_entries_describe(entries=page.items)
    by_kind = {(e.kind, e.subject_id): e for e in page.items}
    # then records are named and linked (not the deleted one), ids shown as names
    won, owner = by_kind["deal.won", w.deal.pk], by_kind["person.owner_assigned", w.maria.pk]
    deleted = by_kind["activity.deleted", w.note_id]
    assert (won.record_label, won.record_url) == ("Northwind platform", f"/people/deals/{w.deal.pk}/")
    assert [(c.field, c.old_text, c.new_text) for c in won.changes] == [
        ("amount", "1000.00", "1200.00"),
        ("pipeline_stage", "New", "Won"),
    ]
    assert (owner.record_label, owner.record_url) == ("Mia", f"/people/{w.maria.pk}/")
    assert [(c.old_text, c.new_text) for c in owner.changes] == [("rita", "ada")]
    assert (deleted.record_label, deleted.record_url) == (f"activity #{w.note_id}", None)
    stage = next(e for e in page.items if e.source == "stage_change")
    assert [(c.old_text, c.new_text) for c in stage.changes] == [("Opportunity", "Customer")]


# ---- the page ----


def _text(body: bytes) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", body.decode()).split())


def test_the_page_shows_each_entry_in_the_readers_zone_with_old_and_new_values(client, world):
    # given the admin (Berlin time) signed in
    client.force_login(world.admin)
    # when she opens Maria's log
    response = client.get("/audit/", {"person": "maria@northwind.example"})
    # then every entry is a row, the profile edit shows its old and new value, times are Berlin's
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('data-testid="audit-entry"') == 19
    text = _text(response.content)
    assert "first_name Maria → Mia" in text
    assert "amount 1000.00 → 1200.00" in text and "pipeline_stage New → Won" in text
    assert "lifecycle_stage Opportunity → Customer" in text
    # the deal was won at 09:00 UTC on 5 March 2025: 10:00 in Berlin
    assert "5 Mar 2025, 10:00:00 rita Rita Rep deal.won Northwind platform" in text
    assert f'href="/people/deals/{world.deal.pk}/"' in body
    assert "logged twice" in text and "same person" in text


def test_the_page_shows_sign_in_attempts_and_rules(client, world):
    # given a stage move by a rule
    person_change_stage(
        person=world.bob, to_stage="disqualified", rule="definition:mql", rule_version=3, reason="spam"
    )
    client.force_login(world.admin)
    # when the admin looks at sign-ins and at Bob's stage changes
    signins = _text(client.get("/audit/", {"kind": "signin.*"}).content)
    rules = _text(client.get("/audit/", {"person": world.bob.pk, "kind": "person.stage_changed"}).content)
    # then
    assert "signin.failed rita" in signins and "ip: 203.0.113.9 · username: rita" in signins
    assert (
        "rule person.stage_changed Robert history spam rule definition:mql v3 lifecycle_stage Opportunity → Disqualified"
        in rules
    )


def test_the_page_pages_and_answers_htmx_with_the_results_alone(client, world):
    # given the admin
    client.force_login(world.admin)
    # when the first page of Maria's log is read 5 at a time, then the next by HTMX
    first = client.get("/audit/", {"person": world.maria.pk})
    page = selectors.audit_page(person=str(world.maria.pk), limit=5)
    older = client.get(
        "/audit/",
        {
            "person": world.maria.pk,
            "cursor": selectors.audit_page(person=str(world.maria.pk), limit=18).next_cursor,
        },
        HTTP_HX_REQUEST="true",
    )
    # then the next link carries the filters; the HTMX answer is the results alone, with the last entry
    assert first.status_code == 200 and page.next_cursor
    assert older.status_code == 200
    assert older.content.decode().startswith('<div id="audit-results">')
    assert older.content.decode().count('data-testid="audit-entry"') == 1


def test_a_bad_filter_on_the_page_names_it_with_422(client, world):
    # given the admin
    client.force_login(world.admin)
    # when a filter names no one, or a day is not a day
    nobody = client.get("/audit/", {"person": "nobody@example.com"})
    bad_day = client.get("/audit/", {"from": "yesterday"})
    # then
    assert (nobody.status_code, bad_day.status_code) == (422, 422)
    assert "no person has the e-mail &#x27;nobody@example.com&#x27;" in nobody.content.decode()
    assert "from must be a day (YYYY-MM-DD), got &#x27;yesterday&#x27;" in bad_day.content.decode()


@pytest.mark.parametrize("role", [Role.SALES_REP, Role.SALES_MANAGER, Role.MARKETING, Role.VIEWER])
def test_others_than_admins_get_403_and_see_nothing(client, world, role):
    # given a user of another role
    client.force_login(UserFactory(role=role))
    # when they open the page and the API, with a filter naming Maria
    page = client.get("/audit/", {"person": "maria@northwind.example"})
    api = client.get("/api/audit/events", {"person": "maria@northwind.example"})
    unknown = client.get("/api/audit/events", {"person": "nobody@example.com"})
    # then both refuse, saying nothing of what the log holds (not even whether an e-mail is known)
    assert (page.status_code, api.status_code, unknown.status_code) == (403, 403, 403)
    assert api.json() == unknown.json() == {"detail": "Only admins read the audit log."}
    for body in (page.content.decode(), api.content.decode()):
        assert "maria" not in body.lower() and "person.updated" not in body


def test_without_signing_in_the_page_redirects_and_the_api_answers_401(client, world):
    # when nobody is signed in
    page = client.get("/audit/")
    api = client.get("/api/audit/events")
    # then
    assert page.status_code == 302 and page["Location"].startswith("/login/")
    assert api.status_code == 401


def test_a_superuser_reads_the_log(client, world):
    # given a superuser of another role
    boss = UserFactory(role=Role.VIEWER, is_superuser=True)
    client.force_login(boss)
    # then
    assert client.get("/audit/").status_code == 200
    assert client.get("/api/audit/events").status_code == 200


def test_the_page_query_count_is_pinned(client, world, django_assert_num_queries):
    # given the admin and Maria's log (people, deals and users to name)
    client.force_login(world.admin)
    client.get("/audit/")
    # when the page is read
    # + her e-mail, the person merged into her, whether anyone was merged into that one, and their records
    with django_assert_num_queries(PAGE_QUERIES + 4):
        response = client.get("/audit/", {"person": "maria@northwind.example"})
    # then
    assert response.status_code == 200


def test_history_links_on_person_deal_and_account_pages_for_admins_only(client, world):
    # given an account, and the admin, then a rep
    account = AccountFactory(name="Northwind")
    pages = [f"/people/{world.maria.pk}/", f"/people/deals/{world.deal.pk}/", f"/accounts/{account.pk}/"]
    links = [
        f'href="/audit/?person={world.maria.pk}"',
        f'href="/audit/?record_type=crm.deal&amp;record_id={world.deal.pk}"',
        f'href="/audit/?record_type=crm.account&amp;record_id={account.pk}"',
    ]
    # when the admin opens each page
    client.force_login(world.admin)
    admin_bodies = [client.get(url).content.decode() for url in pages]
    manager = UserFactory(role=Role.SALES_MANAGER)
    client.force_login(manager)
    manager_bodies = [client.get(url).content.decode() for url in pages]
    # then the admin sees the History link to the record's log, others none
    assert [link in body for link, body in zip(links, admin_bodies, strict=True)] == [True, True, True]
    assert ['data-testid="history-link"' in body for body in manager_bodies] == [False, False, False]


def test_the_admin_home_and_nav_link_to_the_log(client, world):
    # given the admin
    client.force_login(world.admin)
    # when she opens her home page
    body = client.get("/home/admin/").content.decode()
    # then
    assert 'href="/audit/" data-testid="audit-link"' in body and '<a href="/audit/">Audit log</a>' in body


# ---- the API ----


def test_the_api_lists_entries_with_their_changes_and_pages(client, world):
    # given the admin
    client.force_login(world.admin)
    # when the deal's log is read one entry at a time
    first = client.get(
        "/api/audit/events", {"record_type": "crm.deal", "record_id": world.deal.pk, "limit": 1}
    ).json()
    second = client.get(
        "/api/audit/events",
        {"record_type": "crm.deal", "record_id": world.deal.pk, "limit": 1, "cursor": first["next_cursor"]},
    ).json()
    # then the won deal first, with its old and new values, then its creation, and nothing further
    won = first["items"][0]
    assert {
        k: won[k] for k in ("source", "kind", "actor_id", "actor", "subject_type", "subject_id", "changes")
    } == {
        "source": "event",
        "kind": "deal.won",
        "actor_id": world.rep.pk,
        "actor": "rita",
        "subject_type": "crm.deal",
        "subject_id": world.deal.pk,
        "changes": [
            {"field": "amount", "old": "1000.00", "new": "1200.00"},
            {"field": "pipeline_stage", "old": won["data"]["from_stage"], "new": won["data"]["to_stage"]},
        ],
    }
    assert won["occurred_at"] == "2025-03-05T09:00:00Z"
    assert [i["kind"] for i in second["items"]] == ["deal.created"]
    assert second["next_cursor"] is None and second["prev_cursor"] is not None


def test_the_api_filters_like_the_page(client, world):
    # given the admin
    client.force_login(world.admin)
    # when filtered by person, user, kind and time
    body = client.get(
        "/api/audit/events",
        {
            "person": "maria@northwind.example",
            "user": "rita",
            "since": "2025-03-04",
            "until": "2025-03-06T00:00:00Z",
        },
    ).json()
    # then what the rep did to Maria on those days
    assert [(i["source"], i["kind"]) for i in body["items"]] == [
        ("stage_change", "person.stage_changed"),
        ("event", "deal.won"),
        ("stage_change", "person.stage_changed"),
        ("event", "deal.created"),
    ]


def test_the_api_takes_the_pages_from_and_to_and_answers_the_old_names_as_deprecated(client, world):
    # given the admin
    client.force_login(world.admin)
    query = {"person": "maria@northwind.example", "user": "rita"}
    # when the days are given as the page names them (`to` includes its day), and by the old names
    by_page = client.get("/api/audit/events", {**query, "from": "2025-03-04", "to": "2025-03-05"})
    by_moment = client.get("/api/audit/events", {**query, "from": "2025-03-04", "to": "2025-03-06T00:00:00Z"})
    by_old = client.get("/api/audit/events", {**query, "since": "2025-03-04", "until": "2025-03-06T00:00:00Z"})
    both = client.get("/api/audit/events", {"from": "2025-03-04", "since": "2025-03-04"})
    # then all three give the same four entries; only the old names answer the Deprecation header
    keys = [(i["source"], i["id"]) for i in by_page.json()["items"]]
    assert len(keys) == 4
    assert [(i["source"], i["id"]) for i in by_moment.json()["items"]] == keys
    assert [(i["source"], i["id"]) for i in by_old.json()["items"]] == keys
    assert "Deprecation" not in by_page.headers and "Deprecation" not in by_moment.headers
    assert by_old.headers["Deprecation"] == "@1796601600"
    assert by_old.headers["Link"] == '</api/docs>; rel="deprecation"'
    assert by_page.headers["API-Version"] == by_old.headers["API-Version"] == "1"
    # and the old and new name of one filter together are refused naming the old one
    assert both.status_code == 422
    assert both.json() == {
        "detail": "give from or since (its old name), not both",
        "field": "since",
        "value": "2025-03-04 00:00:00",
    }


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"to": "2025-13-01"}, "to"),
        ({"from": "2025-03-05", "to": "2025-03-03"}, "to"),
        ({"person": "nobody@example.com"}, "person"),
        ({"user": "ghost"}, "user"),
        ({"kind": "not a kind"}, "kind"),
        ({"record_id": "3"}, "record_type"),
        ({"since": "2025-03-05", "until": "2025-03-04"}, "until"),
        ({"cursor": "nonsense"}, "cursor"),
        ({"limit": "500"}, "limit"),
        ({"since": "tomorrow"}, "since"),
    ],
)
def test_the_api_refuses_bad_filters_with_422_naming_the_field(client, world, query, field):
    # given the admin
    client.force_login(world.admin)
    # when a filter is wrong
    response = client.get("/api/audit/events", query)
    # then
    assert response.status_code == 422
    body = response.json()
    assert body.get("field") == field or body["errors"][0]["field"] == field


def test_the_api_query_count_is_pinned(client, world, django_assert_num_queries):
    # given the admin
    client.force_login(world.admin)
    client.get("/api/audit/events")
    # when the whole log's first page is read
    with django_assert_num_queries(API_QUERIES):
        response = client.get("/api/audit/events", {"limit": 200})
    # then every entry is there
    assert response.status_code == 200
    assert len(response.json()["items"]) == Event.objects.count() + StageChange.objects.count()


def test_the_api_is_documented(client, world):
    # when the OpenAPI schema is read (by a signed-in user)
    client.force_login(world.admin)
    schema = client.get("/api/openapi.json").json()
    operation = schema["paths"]["/api/audit/events"]["get"]
    # then the operation, its filters and its answers are there
    assert {p["name"] for p in operation["parameters"]} == {
        "person", "record_type", "record_id", "user", "kind", "from", "to", "since", "until", "cursor", "limit",
    }  # fmt: skip
    assert {p["name"] for p in operation["parameters"] if p.get("deprecated")} == {"since", "until"}
    assert {"200", "401", "403", "422"} <= set(operation["responses"])


# ---- the command ----


def test_the_command_prints_a_persons_log_as_a_table(world):
    # when the admin asks for Maria's deal events
    out = io.StringIO()
    call_command("audit", "--person", "maria@northwind.example", "--kind", "deal.*", stdout=out)
    # then one header and one line each, with when (the installation's zone: UTC), who, what and the change
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["when", "who", "kind", "record", "changes", "[why]"]
    assert [line.split()[3] for line in lines[1:]] == ["deal.contact_added", "deal.won", "deal.created"]
    won = lines[2]
    assert won.startswith("2025-03-05 09:00:00  rita ")
    assert won.endswith("Northwind platform            amount: 1000.00 → 1200.00; pipeline_stage: New → Won")


def test_the_command_writes_csv_with_formula_like_text_neutralised(world):
    # given changes whose values look like formulas, to a person now named like one
    person_update(
        person=world.bob, job_title='=HYPERLINK("http://evil")', first_name="=cmd", by_user=world.admin
    )
    out = io.StringIO()
    # when the admin's doings since the start are written as CSV
    call_command(
        "audit", "--user", "ada", "--since", "2025-03-01", "--kind", "person.updated", "--csv", stdout=out
    )
    # then a header and a row per event, no cell starting with a formula character
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][:4] == ["occurred_at", "source", "id", "kind"]
    assert [r[3] for r in rows[1:]] == ["person.updated"] * 3
    assert (rows[1][7], rows[1][11]) == (
        "'=cmd",
        'first_name: Robert → =cmd; job_title: — → =HYPERLINK("http://evil")',
    )
    assert [cell for row in rows for cell in row if not cell_is_safe(cell)] == []


def test_the_command_refuses_a_bad_filter_with_status_1(world):
    # when a person is unknown
    with pytest.raises(CommandError) as refused:
        call_command("audit", "--person", "nobody@example.com", stdout=io.StringIO())
    # then
    assert refused.value.returncode == 1
    assert "no person has the e-mail 'nobody@example.com' (field person" in str(refused.value)
