"""Consent as records: every grant and withdrawal kept with when, where from and by whom; the current state is the
newest record per channel, and the person's flags follow it through every writer."""

from __future__ import annotations

import ast
import datetime as dt
import importlib
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

import tandem
from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.crm.consent.services import consent_flags_refresh, consent_record, consents_record_bulk
from tandem.crm.models import ConsentRecord, Person
from tandem.crm.services import person_create, person_merge, person_update
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def _records(person: Person) -> list[tuple[str, bool, str]]:
    return list(
        ConsentRecord.objects.filter(person=person)
        .order_by("at", "id")
        .values_list("channel", "granted", "source")
    )


def _flags(person: Person) -> tuple[bool, bool]:
    person.refresh_from_db()
    return person.consent_email, person.consent_calls


# ---- the service ----


def test_a_grant_then_a_withdrawal_are_both_kept_and_the_newest_is_the_state():
    # given a person without consent and a marketer
    person = PersonFactory()
    marketer = UserFactory(role="marketing")
    # when e-mail consent is granted from a form, then withdrawn by a user
    consent_record(person=person, channel="email", granted=True, source="form", at=T0)
    consent_record(
        person=person,
        channel="email",
        granted=False,
        source="ui",
        by_user=marketer,
        at=T0 + DAY,
        note="asked on the phone",
    )
    # then both records are kept in order and the person no longer consents
    assert _records(person) == [("email", True, "form"), ("email", False, "ui")]
    withdrawal = ConsentRecord.objects.filter(person=person).order_by("-at").first()
    assert (withdrawal.by_user_id, withdrawal.note, withdrawal.at) == (
        marketer.pk,
        "asked on the phone",
        T0 + DAY,
    )
    assert _flags(person) == (False, False)
    assert (person.consent_email, person.consent_calls) == (False, False)


def test_a_late_record_dated_before_the_newest_changes_the_history_not_the_state():
    # given a person who withdrew e-mail consent yesterday
    person = PersonFactory()
    consent_record(person=person, channel="email", granted=False, source="ui", at=T0 + DAY)
    # when an import brings an older grant
    consent_record(person=person, channel="email", granted=True, source="import", at=T0)
    # then the withdrawal stays the current state
    assert _flags(person) == (False, False)
    assert [r[1] for r in _records(person)] == [True, False]


def test_a_state_change_is_a_person_updated_event_and_a_repeat_its_own_kind():
    # given a person
    person = PersonFactory()
    before = Event.objects.count()
    # when calls consent is granted, then granted again (a form ticked twice)
    first = consent_record(person=person, channel="calls", granted=True, source="form", at=T0)
    consent_record(person=person, channel="calls", granted=True, source="form", at=T0 + DAY)
    # then the change reads as a profile edit (scoring dates its history from those), the repeat as evidence
    events = list(Event.objects.order_by("id")[before:].values_list("kind", "data"))
    assert events == [
        (
            "person.updated",
            {
                "changes": {"consent_calls": [False, True]},
                "consent": {"channel": "calls", "granted": True, "source": "form", "record_id": first.pk},
            },
        ),
        (
            "person.consent_recorded",
            {"consent": {"channel": "calls", "granted": True, "source": "form", "record_id": first.pk + 1}},
        ),
    ]
    assert _flags(person) == (False, True)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("channel", {"channel": "sms"}),
        ("source", {"source": "rumour"}),
        ("granted", {"granted": "yes"}),
        ("note", {"note": "x" * 2001}),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(field, kwargs):
    # given a person
    person = PersonFactory()
    values = {"channel": "email", "granted": True, "source": "ui", **kwargs}
    # when
    with pytest.raises(ValidationFailed) as refused:
        consent_record(person=person, **values)
    # then
    assert refused.value.field == field
    assert ConsentRecord.objects.count() == 0
    assert _flags(person) == (False, False)


def test_the_database_refuses_an_unknown_channel_even_from_raw_writes():
    # given a person
    from django.db import IntegrityError, transaction

    person = PersonFactory()
    # when a row with an unknown channel is inserted past the service / then the check constraint refuses it
    with pytest.raises(IntegrityError), transaction.atomic():
        ConsentRecord.objects.create(person=person, channel="fax", granted=True, at=T0, source="ui")


def test_bulk_records_set_each_persons_flags_from_their_newest_records(django_assert_num_queries):
    # given two people, one already consenting to e-mail
    a, b = PersonFactory(), PersonFactory()
    consent_record(person=a, channel="email", granted=True, source="form", at=T0)
    # when an import records a withdrawal for a and grants for b, in bulk
    rows = [
        ConsentRecord(person_id=a.pk, channel="email", granted=False, at=T0 + DAY, source="import"),
        ConsentRecord(person_id=b.pk, channel="email", granted=True, at=T0, source="import"),
        ConsentRecord(person_id=b.pk, channel="calls", granted=True, at=T0, source="import"),
    ]
    # savepoint, insert, read records, read flags, one update per new state (two here), release
    with django_assert_num_queries(7):
        assert consents_record_bulk(records=rows) == 3
    # then
    assert _flags(a) == (False, False)
    assert _flags(b) == (True, True)


def test_flags_refresh_repairs_flags_that_disagree_with_the_records():
    # given a person whose flag was set past the service (as a raw SQL repair might)
    person = PersonFactory()
    Person.objects.filter(pk=person.pk).update(consent_email=True)
    # when the flags are refreshed / then they follow the records again (none: no consent)
    assert consent_flags_refresh(person_ids=[person.pk]) == 1
    assert _flags(person) == (False, False)


# ---- every writer goes through the service ----


def test_creating_a_person_with_consent_records_it_from_the_given_source():
    # given / when a person is created through the API path with e-mail consent
    person = person_create(email="cora@acme.example", consent_email=True, consent_source="api", created_at=T0)
    # then a grant dated at creation, from the API, is the only record
    assert _records(person) == [("email", True, "api")]
    assert ConsentRecord.objects.get(person=person).at == T0
    assert _flags(person) == (True, False)


def test_editing_consent_writes_a_record_and_leaves_the_other_fields_edit_as_before():
    # given a person with e-mail consent and a rep
    person = person_create(email="dan@acme.example", consent_email=True)
    rep = UserFactory(role="sales_rep")
    # when the rep withdraws it and fixes the title in one edit
    person_update(person=person, by_user=rep, consent_email=False, job_title="CTO")
    # then the withdrawal is a record by the rep from the web app, and the title changed
    assert _records(person) == [("email", True, "ui"), ("email", False, "ui")]
    assert ConsentRecord.objects.filter(person=person, granted=False).get().by_user_id == rep.pk
    person.refresh_from_db()
    assert (person.job_title, person.consent_email) == ("CTO", False)


def test_a_merge_gives_the_survivor_the_newest_consent_of_both():
    # given a survivor who withdrew e-mail consent, and a duplicate who granted it later
    survivor, duplicate = PersonFactory(), PersonFactory()
    consent_record(person=survivor, channel="email", granted=False, source="ui", at=T0)
    consent_record(person=duplicate, channel="email", granted=True, source="form", at=T0 + DAY)
    # when they are merged
    person_merge(survivor=survivor, duplicate=duplicate)
    # then the duplicate's records moved over and its newer grant is the survivor's consent
    assert [r[1] for r in _records(survivor)] == [False, True]
    assert _flags(survivor) == (True, False)


def test_only_the_consent_service_writes_the_consent_flags():
    # given every module of ours, read as syntax trees
    root = Path(tandem.__file__).parent
    allowed = {root / "crm" / "consent" / "services.py", root / "crm" / "privacy" / "services.py"}
    flags = {"consent_email", "consent_calls"}
    # a write is: an attribute assigned, setattr with the name, or the name as a keyword of a call that writes rows
    writers = {"update", "create", "bulk_create", "get_or_create", "update_or_create", "Person"}
    offenders = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts or path in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            hit = False
            if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                hit = any(isinstance(t, ast.Attribute) and t.attr in flags for t in targets)
            elif isinstance(node, ast.Call):
                name = (
                    node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                )
                # .update( on a dict is not a write: only on a queryset (objects…, filter(…), exclude(…)).
                receiver = ast.unparse(node.func.value) if isinstance(node.func, ast.Attribute) else ""
                rows = name != "update" or any(
                    w in receiver for w in ("objects", "filter(", "exclude(", "all(")
                )
                if name in writers and rows:
                    hit = any(k.arg in flags for k in node.keywords)
                elif name == "setattr" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    hit = node.args[1].value in flags
            if hit:
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    # then none but the consent service (and the erasure, which clears them with the records) sets them
    assert offenders == []


# ---- API ----


def _login(client, role: str) -> object:
    user = UserFactory(role=role)
    client.force_login(user)
    return user


def test_api_lists_the_state_and_history_and_records_a_withdrawal(client, django_assert_num_queries):
    # given a person who consented to e-mail on a form, and a marketer signed in
    person = PersonFactory()
    consent_record(person=person, channel="email", granted=True, source="form", at=T0)
    marketer = _login(client, "marketing")
    # when the marketer records a withdrawal through the API
    response = client.post(
        f"/api/people/{person.pk}/consent",
        {"channel": "email", "granted": False, "note": "unsubscribed by reply"},
        content_type="application/json",
    )
    # then it is recorded from the API, by the marketer
    assert response.status_code == 201
    body = response.json()
    assert (body["channel"], body["granted"], body["source"], body["by_user_id"], body["note"]) == (
        "email",
        False,
        "api",
        marketer.pk,
        "unsubscribed by reply",
    )
    # and reading it back shows the current state first, then the history newest first
    response = client.get(f"/api/people/{person.pk}/consent")
    assert response.status_code == 200
    body = response.json()
    assert [(c["channel"], c["granted"], c["source"]) for c in body["channels"]] == [
        ("email", False, "api"),
        ("calls", False, None),
    ]
    assert [(h["granted"], h["source"]) for h in body["history"]] == [(False, "api"), (True, "form")]


def test_api_refuses_a_viewer_and_an_unknown_channel_and_writes_nothing(client):
    # given a person, and a viewer signed in
    person = PersonFactory()
    _login(client, "viewer")
    # when the viewer records consent / then 403
    response = client.post(
        f"/api/people/{person.pk}/consent",
        {"channel": "email", "granted": True},
        content_type="application/json",
    )
    assert response.status_code == 403
    # and an admin sending an unknown channel gets a 422 naming it
    _login(client, "admin")
    response = client.post(
        f"/api/people/{person.pk}/consent",
        {"channel": "sms", "granted": True},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert "channel" in response.json()["detail"]
    assert ConsentRecord.objects.count() == 0


def test_api_patch_of_consent_is_recorded_from_the_api(client):
    # given a person and an admin
    person = PersonFactory()
    _login(client, "admin")
    # when the person's consent is patched
    response = client.patch(
        f"/api/people/{person.pk}", {"consent_calls": True}, content_type="application/json"
    )
    # then the flag is set through a record from the API
    assert response.status_code == 200
    assert response.json()["consent_calls"] is True
    assert _records(person) == [("calls", True, "api")]


# ---- the person page ----


def test_the_consent_panel_shows_the_history_and_records_a_change(client, django_assert_num_queries):
    # given a person with a form grant, and a marketer signed in
    person = PersonFactory()
    consent_record(person=person, channel="email", granted=True, source="form", at=T0, note="newsletter box")
    _login(client, "marketing")
    # when the panel loads
    with django_assert_num_queries(6):  # session, user, person, history; permission checks
        response = client.get(f"/people/{person.pk}/consent/")
    # then it shows the state and the history
    assert response.status_code == 200
    html = response.content.decode()
    assert "Web form" in html and "newsletter box" in html and "Record consent" in html
    # when the marketer records a withdrawal of e-mail consent from the panel
    response = client.post(
        f"/people/{person.pk}/consent/",
        {"channel": "email", "granted": "no", "note": "asked"},
        HTTP_HX_REQUEST="true",
    )
    # then it is recorded from the web app and the panel says so
    assert response.status_code == 200
    assert "E-mail consent withdrawn." in response.content.decode()
    assert _records(person) == [("email", True, "form"), ("email", False, "ui")]


def test_the_consent_panel_offers_no_form_to_a_viewer_and_refuses_their_post(client):
    # given a person and a viewer
    person = PersonFactory()
    _login(client, "viewer")
    # when the viewer opens the panel, then posts to it
    page = client.get(f"/people/{person.pk}/consent/")
    refused = client.post(f"/people/{person.pk}/consent/", {"channel": "email", "granted": "yes"})
    # then the panel has no form, and the post is refused with nothing written
    assert page.status_code == 200 and "Record consent" not in page.content.decode()
    assert refused.status_code == 403
    assert ConsentRecord.objects.count() == 0


# ---- the migration from the flags ----


def test_the_migration_turns_set_flags_into_migrated_grants_dated_at_creation():
    # given people whose flags were set before consent records existed (one e-mail, one both, one none)
    migration = importlib.import_module("tandem.crm.migrations.0008_consent_records")
    a, b, c = PersonFactory(created_at=T0), PersonFactory(created_at=T0 + DAY), PersonFactory()
    Person.objects.filter(pk=a.pk).update(consent_email=True)
    Person.objects.filter(pk=b.pk).update(consent_email=True, consent_calls=True)
    # when the migration's data step runs
    # (the step needs only the editor's connection and quoting; SQLite's editor cannot open inside a test's transaction)
    editor = SimpleNamespace(connection=connection, quote_name=connection.ops.quote_name)
    migration.booleans_to_records(apps, editor)
    # then each set flag is one grant from "migrated" at the person's creation, and an unset flag wrote nothing
    rows = ConsentRecord.objects.order_by("person_id", "channel").values_list(
        "person_id", "channel", "granted", "source", "at"
    )
    assert list(rows) == [
        (a.pk, "email", True, "migrated", T0),
        (b.pk, "calls", True, "migrated", T0 + DAY),
        (b.pk, "email", True, "migrated", T0 + DAY),
    ]
    assert not ConsentRecord.objects.filter(person=c).exists()
