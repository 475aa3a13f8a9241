"""Erasure: the person is gone from every text column of every table (search indexes and Django's admin log
included), the reports' totals are what they were, and the audit event names who and why but not them."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tandem.analytics.reports.selectors import attribution_report_get, funnel_report_get
from tandem.campaigns.models import Touchpoint
from tandem.capture.models import ImportJob, Submission
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tandem.crm.consent.services import consent_record
from tandem.crm.models import Activity, Deal, Person, StageChange
from tandem.crm.selectors import people_count_by_stage, people_list
from tandem.crm.services import person_change_stage, person_merge
from tandem.feedback.models import Question
from tandem.lifecycle.selectors import inbox_page
from tandem.privacy.services import person_erase, person_export
from tandem.search.selectors import search
from tandem.users.models import Role
from tests.crm.factories import PersonFactory
from tests.privacy.world import EMAIL, NAME, NEEDLES, PHONE, world_build
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _text_columns() -> list[tuple[str, str]]:
    """(table, column) of every column of every table that can hold text: char, text, JSON (and, on SQLite,
    untyped and blob columns, which FTS5 shadow tables use)."""
    out: list[tuple[str, str]] = []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            for (table,) in cursor.fetchall():
                cursor.execute(f'PRAGMA table_info("{table}")')
                for _, column, kind, *_ in cursor.fetchall():
                    kind = (kind or "").lower()
                    if not kind or any(t in kind for t in ("char", "text", "json", "blob", "clob")):
                        out.append((table, column))
        else:
            cursor.execute(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                "AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea')"
            )
            out = [(t, c) for t, c in cursor.fetchall()]
    return out


def _found(needle: str) -> list[str]:
    """Every table.column where the needle occurs in any row (any case)."""
    hits = []
    with connection.cursor() as cursor:
        for table, column in _text_columns():
            if connection.vendor == "sqlite":
                sql = f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS TEXT) LIKE %s'
            else:
                sql = f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s'
            cursor.execute(sql, [f"%{needle}%"])
            if cursor.fetchone()[0]:
                hits.append(f"{table}.{column}")
    return hits


def _totals() -> dict[str, Any]:
    return {
        "funnel": funnel_report_get(),
        "attribution": {m: attribution_report_get(model=m) for m in ("first_touch", "linear", "markov")},
        "rows": (
            Person.objects.count(),
            StageChange.objects.count(),
            Touchpoint.objects.count(),
            Deal.objects.count(),
            Activity.objects.count(),
            Question.objects.count(),
        ),
    }


def test_after_an_erasure_no_text_column_of_any_table_holds_the_person_and_totals_are_unchanged():
    # given a company where Zelda is in every table (journal, events, notes, tasks, questions, index, admin log…)
    world = world_build()
    assert _found(EMAIL) and _found(NAME) and _found(PHONE)  # the search below does find her before
    assert search(q="Quimbyxx", user=world.admin).total == 2  # her, and the deal named after her
    before = _totals()
    pk = world.person.pk
    # when an admin erases her
    result = person_erase(person=world.person, reason="erasure request, ticket 1182", by_user=world.admin)
    # then not one text column of any table holds her e-mail, name, phone, address or browser
    assert {needle: _found(needle) for needle in NEEDLES} == {needle: [] for needle in NEEDLES}
    # and search finds her by nothing
    assert search(q="Quimbyxx", user=world.admin).total == 0
    assert search(q=EMAIL, user=world.admin).total == 0
    # and the funnel, attribution and row counts are exactly what they were
    assert _totals() == before
    # and her row stays as an anonymous placeholder with her history
    person = Person.objects.get(pk=pk)
    assert (person.email, person.email_normalized, person.full_name, person.phone) == ("", None, "", "")
    assert person.erased_at == result.erased_at and str(person) == f"Erased person #{pk}"
    assert (person.consent_email, person.lifecycle_stage) == (False, "customer")
    # and one audit event names who and why, and nothing of her
    audit = Event.objects.get(kind="privacy.person_erased")
    assert (audit.subject_type, audit.subject_id, audit.actor_id, audit.reason) == (
        "crm.person",
        pk,
        world.admin.pk,
        "erasure request, ticket 1182",
    )
    assert audit.data["via"] == "ui" and audit.data["counts"]["submissions"] == 2
    # and the import file she was in lost her row, and only hers
    stored = default_storage.open(ImportJob.objects.get().stored_path).read().decode()
    assert stored == "Email,First Name,Last Name,Phone Number\nkeep.me@acme.example,Kim,Keep,\n"
    # and her journal rows keep their status but nothing of what arrived
    assert set(Submission.objects.values_list("payload", "remote_addr", "user_agent", "status")) == {
        ("", "", "", "processed"),
        ("", "", "", "rejected"),
    }


def test_the_reason_may_not_name_the_person_and_a_refusal_changes_nothing():
    # given a person and an admin
    person = PersonFactory(email="otto.prism@acme.example", first_name="Otto", last_name="Prism")
    admin = UserFactory(role="admin")
    events = Event.objects.count()
    # when the reason names them / then it is refused, naming the field but not echoing the reason
    for reason in ("asked by otto.prism@acme.example", "Otto asked", "", "x" * 501):
        with pytest.raises(ValidationFailed) as refused:
            person_erase(person=person, reason=reason, by_user=admin)
        assert refused.value.field == "reason"
    # and nothing changed
    person.refresh_from_db()
    assert (person.email, person.erased_at, Event.objects.count()) == (
        "otto.prism@acme.example",
        None,
        events,
    )


def test_an_erased_person_cannot_be_erased_or_exported_again():
    # given an erased person
    person = PersonFactory()
    person_erase(person=person, reason="request 1", by_user=None)
    # when / then
    with pytest.raises(NotAllowed):
        person_erase(person=person, reason="request 2", by_user=None)
    with pytest.raises(NotAllowed):
        person_export(person=person)
    # and no consent can be recorded for them, nor can their anonymous history be merged into someone
    with pytest.raises(NotAllowed):
        consent_record(person=person, channel="email", granted=True, source="ui")
    with pytest.raises(NotAllowed):
        person_merge(survivor=PersonFactory(), duplicate=person)
    assert Event.objects.filter(kind="privacy.person_erased").count() == 1


# ---- API ----


def test_api_erases_for_an_admin_and_refuses_others(client):
    # given a person, a marketer and an admin
    person = PersonFactory(email="api.erase@acme.example")
    client.force_login(UserFactory(role="marketing"))
    # when the marketer asks / then 403 and nothing changed
    response = client.post(
        f"/api/people/{person.pk}/erase", {"reason": "request"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert Person.objects.get(pk=person.pk).email == "api.erase@acme.example"
    # when the admin asks with a reason naming them / then 422 naming the reason
    admin = UserFactory(role="admin")
    client.force_login(admin)
    response = client.post(
        f"/api/people/{person.pk}/erase",
        {"reason": "api.erase@acme.example wants out"},
        content_type="application/json",
    )
    assert (response.status_code, response.json()["field"]) == (422, "reason")
    # when the admin asks properly / then 200 with the counts, and a second time 409
    response = client.post(
        f"/api/people/{person.pk}/erase", {"reason": "request 7"}, content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["person_id"] == person.pk and body["counts"]["search_indexes"] == (
        4 if connection.vendor == "sqlite" else 0
    )
    again = client.post(
        f"/api/people/{person.pk}/erase", {"reason": "request 7"}, content_type="application/json"
    )
    assert again.status_code == 409
    assert Event.objects.get(kind="privacy.person_erased").data["via"] == "api"


def test_api_answers_404_for_a_missing_person(client):
    # given an admin
    client.force_login(UserFactory(role="admin"))
    # when / then
    response = client.post("/api/people/999999/erase", {"reason": "request"}, content_type="application/json")
    assert response.status_code == 404


# ---- the page ----


def test_the_page_erases_after_the_email_is_typed_and_is_for_admins_only(client):
    # given a person and an admin
    person = PersonFactory(email="page.erase@acme.example")
    admin = UserFactory(role="admin")
    client.force_login(admin)
    # when the admin opens the person page / then it offers the erase button
    assert 'data-testid="person-erase"' in client.get(f"/people/{person.pk}/").content.decode()
    # when the confirmation is wrong / then 422 and nothing changed
    url = f"/privacy/people/{person.pk}/erase/"
    response = client.post(url, {"confirm": "someone@else.example", "reason": "request"})
    assert response.status_code == 422
    assert Person.objects.get(pk=person.pk).erased_at is None
    # when the e-mail is typed (in another case) with a reason / then the person is erased
    response = client.post(url, {"confirm": "Page.Erase@acme.example", "reason": "request 9"})
    assert response.status_code == 302
    assert Person.objects.get(pk=person.pk).erased_at is not None
    assert "Erased person #" in client.get(f"/people/{person.pk}/").content.decode()
    # and a sales manager cannot open the page
    client.force_login(UserFactory(role="sales_manager"))
    assert client.get(url).status_code == 403


# ---- the command line ----


def test_the_command_erases_by_email_and_refuses_an_unknown_one(capsys):
    # given a person
    person = PersonFactory(email="cli.erase@acme.example")
    # when erased from the command line
    call_command("person", "erase", "CLI.erase@acme.example", "--reason", "request 12")
    # then the person is erased and the audit event says the command line did it
    assert Person.objects.get(pk=person.pk).erased_at is not None
    assert f"person #{person.pk} erased" in capsys.readouterr().out
    assert Event.objects.get(kind="privacy.person_erased").data["via"] == "cli"
    # and an unknown (or now erased) e-mail is refused with status 3
    with pytest.raises(CommandError) as refused:
        call_command("person", "erase", "cli.erase@acme.example", "--reason", "again")
    assert refused.value.returncode == 3


def test_an_erased_placeholder_leaves_the_people_list_and_the_inbox_but_still_counts():
    # given two MQLs owned by nobody, one of them erased

    kept, gone = PersonFactory(), PersonFactory()
    for person in (kept, gone):
        person_change_stage(person=person, to_stage="mql")
    person_erase(person=gone, reason="request", by_user=None)
    admin = UserFactory(role=Role.ADMIN)
    # when the lists are read
    listed = [p.pk for p in people_list(user=admin).items]
    inbox = [item.person.pk for item in inbox_page(user=admin).items]
    counts = {c.stage: c.count for c in people_count_by_stage()}
    # then the placeholder is in neither list, and the stage count still includes it
    assert listed == [kept.pk]
    assert inbox == [kept.pk]
    assert counts["mql"] == 2
