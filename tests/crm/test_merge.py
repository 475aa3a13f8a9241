from __future__ import annotations

import datetime as dt

import pytest

from tandem.campaigns.models import Touchpoint
from tandem.core.errors import ValidationFailed
from tandem.core.models import Event
from tandem.crm.identity import MERGED_EMAIL_SYSTEM
from tandem.crm.models import Activity, Deal, DealContact, ExternalId, Person, StageChange, Task
from tandem.crm.selectors import person_match
from tandem.crm.services import activity_log, person_change_stage, person_link_external_id, person_merge
from tandem.feedback.models import Question
from tests.campaigns.factories import CampaignFactory, TouchpointFactory
from tests.crm.factories import AccountFactory, DealFactory, PersonFactory
from tests.users.factories import UserFactory

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)
# Lock, seven moves, the journey ends, the delete's cascade, the save, the receipts: the same for 1 row or 20.
# 41, and consent: its records move (1), the survivor's flags are read back (2), the duplicate's cascade (1).
# Audience snapshots: the survivor's memberships dropped from the duplicate, the move, the duplicate's cascade (3).
QUERIES = 48
# The duplicates page: session, user, the manager's teams (record-level access), people under a punycode e-mail
# key (tandem.crm.selectors.person_identity_collisions), groups, their people.
PAGE_QUERIES = 6


def _with_history(
    person: Person, *, touches: int, at: dt.datetime = T0, channel: str = "paid_search"
) -> None:
    for i in range(touches):
        TouchpointFactory(person=person, occurred_at=at + dt.timedelta(days=i), channel=channel)
    activity_log(person=person, kind="call", occurred_at=at, outcome="connected")
    Question.objects.create(person=person, asked_at=at, text="Does it run on premises?")


def _snapshot() -> tuple[object, ...]:
    return (
        list(Person.objects.order_by("id").values_list("id", "email", "lifecycle_stage", "job_title")),
        list(Touchpoint.objects.order_by("id").values_list("id", "person_id")),
        list(Deal.objects.order_by("id").values_list("id", "person_id")),
        list(Activity.objects.order_by("id").values_list("id", "person_id")),
        list(Question.objects.order_by("id").values_list("id", "person_id")),
        list(ExternalId.objects.order_by("id").values_list("id", "person_id")),
        list(StageChange.objects.order_by("id").values_list("id", "person_id")),
        Event.objects.count(),
    )


def test_merge_moves_every_related_kind_and_deletes_the_duplicate(db):
    # given
    manager = UserFactory(role="sales_manager")
    survivor = PersonFactory(email="ann@acme.example", first_name="Ann", last_name="Lee", job_title="")
    duplicate = PersonFactory(
        email="a.lee@acme.example",
        first_name="Ann",
        last_name="Lee",
        job_title="CFO",
        phone="+49 30 1234 5678",
    )
    _with_history(survivor, touches=1)
    _with_history(duplicate, touches=3)
    deal = DealFactory(person=duplicate)
    DealFactory(person=duplicate)
    DealContact.objects.create(deal=deal, person=duplicate, role="champion")
    Task.objects.create(title="Call back", due_at=T0, owner=manager, person=duplicate)
    person_link_external_id(person=duplicate, system="x-education", external_id="P-9")
    duplicate_id = duplicate.pk
    # when
    merged = person_merge(survivor=survivor, duplicate=duplicate, by_user=manager, reason="same person")
    # then
    assert not Person.objects.filter(pk=duplicate_id).exists()
    assert Touchpoint.objects.filter(person=merged).count() == 4
    assert Deal.objects.filter(person=merged).count() == 2
    assert Activity.objects.filter(person=merged).count() == 2
    assert Question.objects.filter(person=merged).count() == 2
    assert StageChange.objects.filter(person=merged).count() == 2
    assert list(Task.objects.filter(person=merged).values_list("title", flat=True)) == ["Call back"]
    assert list(DealContact.objects.filter(person=merged).values_list("deal_id", "role")) == [(deal.pk, "champion")]
    assert sorted(ExternalId.objects.filter(person=merged).values_list("system", "external_id")) == [
        (MERGED_EMAIL_SYSTEM, "a.lee@acme.example"),
        ("x-education", "P-9"),
    ]
    assert (merged.job_title, merged.phone, merged.email) == ("CFO", "+49 30 1234 5678", "ann@acme.example")
    event = Event.objects.get(kind="person.merged")
    assert (event.subject_id, event.actor_id, event.reason) == (survivor.pk, manager.pk, "same person")
    assert event.data["merged_id"] == duplicate_id
    assert event.data["moved"] == {
        "submissions": 0,
        "experiment_assignments": 0,
        "audience_members": 0,
        "touchpoints": 3,
        "deals": 2,
        "activities": 1,
        "tasks": 1,
        "deal_roles": 1,
        "questions": 1,
        "lead_ratings": 0,
        "content_uses": 0,
        "external_ids": 1,
        "consent_records": 0,
        "stage_changes": 1,
        "events": 1,
    }
    assert event.data["filled"] == ["job_title", "phone"]


def test_merge_never_overwrites_the_survivors_fields(db):
    # given
    acme = AccountFactory(name="Acme")
    globex = AccountFactory(name="Globex")
    survivor = PersonFactory(email="ann@acme.example", job_title="CEO", account=acme, phone="")
    duplicate = PersonFactory(email="ann@globex.example", job_title="CFO", account=globex, phone="")
    # when
    merged = person_merge(survivor=survivor, duplicate=duplicate, by_user=None)
    # then
    assert (merged.job_title, merged.account_id, merged.phone) == ("CEO", acme.pk, "")


def test_merge_gives_an_emailless_survivor_the_duplicates_email(db):
    # given
    survivor = PersonFactory(email="", phone="+49 30 1234 5678")
    duplicate = PersonFactory(email="Ann@Acme.example")
    # when
    merged = person_merge(survivor=survivor, duplicate=duplicate, by_user=None)
    # then
    assert (merged.email, merged.email_normalized) == ("Ann@Acme.example", "ann@acme.example")
    assert ExternalId.objects.filter(system=MERGED_EMAIL_SYSTEM).count() == 0
    assert person_match(email="ann@acme.example") == merged


def test_merged_email_still_finds_the_survivor(db):
    # given
    survivor = PersonFactory(email="ann@acme.example")
    duplicate = PersonFactory(email="ann.lee@gmail.com")
    person_merge(survivor=survivor, duplicate=duplicate, by_user=None)
    # when
    found = person_match(email=" Ann.Lee@Gmail.com ")
    # then
    assert found == survivor


def test_merge_keeps_the_further_along_stage_through_a_stage_change(db):
    # given
    survivor = PersonFactory(email="ann@acme.example", stage="lead")
    duplicate = PersonFactory(email="a.lee@acme.example", stage="lead")
    person_change_stage(person=duplicate, to_stage="sql", at=T0, reason="qualified")
    # when
    merged = person_merge(survivor=survivor, duplicate=duplicate, by_user=None)
    # then
    assert merged.lifecycle_stage == "sql"
    last = StageChange.objects.filter(person=merged).order_by("-id").first()
    assert last is not None
    assert (last.from_stage, last.to_stage, last.reason) == ("lead", "sql", f"merged from #{duplicate.pk}")
    assert StageChange.objects.filter(person=merged).count() == 4


def test_merge_keeps_the_survivors_stage_when_it_is_further_along(db):
    # given
    survivor = PersonFactory(email="ann@acme.example", stage="customer")
    duplicate = PersonFactory(email="a.lee@acme.example", stage="mql")
    # when
    merged = person_merge(survivor=survivor, duplicate=duplicate, by_user=None)
    # then
    assert merged.lifecycle_stage == "customer"
    assert StageChange.objects.filter(person=merged).count() == 2
    assert not StageChange.objects.filter(reason__startswith="merged from").exists()


def test_merge_leaves_a_disqualified_survivor_where_the_state_machine_forbids_the_move(db):
    # given
    survivor = PersonFactory(email="ann@acme.example", stage="lead")
    person_change_stage(person=survivor, to_stage="disqualified", at=T0, reason="student")
    duplicate = PersonFactory(email="a.lee@acme.example", stage="mql")
    # when
    merged = person_merge(survivor=survivor, duplicate=duplicate, by_user=None)
    # then
    assert merged.lifecycle_stage == "disqualified"
    assert Event.objects.get(kind="person.merged").data["stage"] == {
        "from": "disqualified",
        "to": "disqualified",
    }


def test_merge_recomputes_original_and_latest_channel_from_the_combined_journey(db):
    # given
    early = CampaignFactory(channel="webinar")
    survivor = PersonFactory(email="ann@acme.example", original_channel="paid_search")
    duplicate = PersonFactory(email="a.lee@acme.example", original_channel="webinar")
    TouchpointFactory(person=survivor, occurred_at=T0, channel="paid_search")
    TouchpointFactory(
        person=duplicate, occurred_at=T0 - dt.timedelta(days=30), channel="webinar", campaign=early
    )
    TouchpointFactory(person=duplicate, occurred_at=T0 + dt.timedelta(days=5), channel="email")
    # when
    merged = person_merge(survivor=survivor, duplicate=duplicate, by_user=None)
    # then
    assert (merged.original_channel, merged.original_campaign_id) == ("webinar", early.pk)
    assert (merged.latest_channel, merged.latest_campaign_id) == ("email", None)


def test_merge_with_itself_is_refused_and_changes_nothing(db):
    # given
    ann = PersonFactory(email="ann@acme.example")
    _with_history(ann, touches=2)
    before = _snapshot()
    # when
    with pytest.raises(ValidationFailed) as exc:
        person_merge(survivor=ann, duplicate=ann, by_user=None)
    # then
    assert str(exc.value) == f"person #{ann.pk} cannot be merged with itself"
    assert exc.value.field == "duplicate_id"
    assert _snapshot() == before


@pytest.mark.parametrize("rows", [1, 20])
def test_merge_query_count_does_not_grow_with_rows_moved(db, django_assert_num_queries, rows):
    # given
    survivor = PersonFactory(email="ann@acme.example")
    duplicate = PersonFactory(email="a.lee@acme.example")
    _with_history(duplicate, touches=rows)
    for _ in range(rows):
        DealFactory(person=duplicate)
    # when
    with django_assert_num_queries(QUERIES):
        person_merge(survivor=survivor, duplicate=duplicate, by_user=None)
    # then
    assert Touchpoint.objects.filter(person=survivor).count() == rows
    assert Deal.objects.filter(person=survivor).count() == rows


# ---- API ----


def _login(client, role: str):  # type: ignore[no-untyped-def]
    user = UserFactory(role=role)
    client.force_login(user)
    return user


def _pair() -> tuple[Person, Person]:
    acme = AccountFactory(name="Acme")
    first = PersonFactory(email="ann@acme.example", first_name="Ann", last_name="Lee", account=acme)
    second = PersonFactory(email="a.lee@acme.example", first_name="Ann", last_name="Lee", account=acme)
    return first, second


def test_api_lists_duplicate_groups(client, db):
    # given
    _login(client, "marketing")
    first, second = _pair()
    # when
    response = client.get("/api/people/duplicates")
    # then
    assert response.status_code == 200
    body = response.json()
    assert [(g["name_key"], g["company"], [m["id"] for m in g["members"]]) for g in body] == [
        ("ann lee", "Acme", [first.pk, second.pk])
    ]


def test_api_merges_into_the_survivor(client, db):
    # given
    manager = _login(client, "sales_manager")
    first, second = _pair()
    # when
    response = client.post(
        f"/api/people/{first.pk}/merge",
        {"duplicate_id": second.pk, "reason": "same person"},
        content_type="application/json",
    )
    # then
    assert response.status_code == 200
    assert response.json()["id"] == first.pk
    assert list(Person.objects.values_list("id", flat=True)) == [first.pk]
    event = Event.objects.get(kind="person.merged")
    assert (event.actor_id, event.reason, event.data["merged_id"]) == (manager.pk, "same person", second.pk)


@pytest.mark.parametrize("role", ["sales_rep", "viewer"])
def test_api_refuses_merging_to_other_roles(client, db, role):
    # given
    _login(client, role)
    first, second = _pair()
    before = _snapshot()
    # when
    listed = client.get("/api/people/duplicates")
    merged = client.post(
        f"/api/people/{first.pk}/merge", {"duplicate_id": second.pk}, content_type="application/json"
    )
    # then
    assert (listed.status_code, merged.status_code) == (403, 403)
    assert _snapshot() == before


def test_api_answers_404_for_unknown_people_and_422_for_the_same_id(client, db):
    # given
    _login(client, "admin")
    first, second = _pair()
    before = _snapshot()
    # when
    unknown_duplicate = client.post(
        f"/api/people/{first.pk}/merge", {"duplicate_id": 999999}, content_type="application/json"
    )
    unknown_survivor = client.post(
        "/api/people/999999/merge", {"duplicate_id": second.pk}, content_type="application/json"
    )
    same = client.post(
        f"/api/people/{first.pk}/merge", {"duplicate_id": first.pk}, content_type="application/json"
    )
    # then
    assert (unknown_duplicate.status_code, unknown_survivor.status_code, same.status_code) == (404, 404, 422)
    assert unknown_duplicate.json()["detail"] == "no person with id 999999"
    assert same.json()["detail"] == f"person #{first.pk} cannot be merged with itself"
    assert same.json()["field"] == "duplicate_id"
    assert _snapshot() == before


# ---- pages ----


def test_duplicates_page_renders_for_a_manager(client, db, django_assert_num_queries):
    # given
    _login(client, "sales_manager")
    first, second = _pair()
    # when
    response = client.get("/people/duplicates/")
    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('data-testid="duplicate-group"') == 1
    assert f"/people/{first.pk}/merge/{second.pk}/" in html
    assert f"/people/{second.pk}/merge/{first.pk}/" in html


def test_duplicates_page_query_count_does_not_grow(client, db, django_assert_num_queries):
    # given
    _login(client, "sales_manager")
    for n in range(4):
        acme = AccountFactory(name=f"Acme {n}")
        for i in range(2):
            PersonFactory(email=f"p{n}-{i}@acme.example", first_name="Ann", last_name="Lee", account=acme)
    client.get("/people/duplicates/")
    # when
    with django_assert_num_queries(PAGE_QUERIES):
        response = client.get("/people/duplicates/")
    # then
    assert response.content.decode().count('data-testid="duplicate-group"') == 4


def test_duplicates_and_merge_pages_are_forbidden_to_a_rep(client, db):
    # given
    _login(client, "sales_rep")
    first, second = _pair()
    before = _snapshot()
    # when
    page = client.get("/people/duplicates/")
    post = client.post(f"/people/{first.pk}/merge/{second.pk}/", {"reason": "x"})
    # then
    assert (page.status_code, post.status_code) == (403, 403)
    assert _snapshot() == before


def test_merge_page_merges_and_redirects_to_the_survivor(client, db):
    # given
    _login(client, "admin")
    first, second = _pair()
    # when
    shown = client.get(f"/people/{first.pk}/merge/{second.pk}/")
    done = client.post(f"/people/{first.pk}/merge/{second.pk}/", {"reason": "same person"})
    # then
    assert shown.status_code == 200
    assert (done.status_code, done["Location"]) == (302, f"/people/{first.pk}/")
    assert list(Person.objects.values_list("id", flat=True)) == [first.pk]


def test_merge_page_shows_the_refusal_for_the_same_person(client, db):
    # given
    _login(client, "admin")
    first, _ = _pair()
    before = _snapshot()
    # when
    response = client.post(f"/people/{first.pk}/merge/{first.pk}/", {"reason": ""})
    # then
    assert response.status_code == 422
    assert f"person #{first.pk} cannot be merged with itself" in response.content.decode()
    assert _snapshot() == before


def test_merge_keeps_the_survivors_role_when_both_are_on_one_deal(db):
    # given both people on one deal, with different roles
    survivor = PersonFactory(email="ann@acme.example")
    duplicate = PersonFactory(email="a.lee@acme.example")
    deal = DealFactory(person=survivor)
    DealContact.objects.create(deal=deal, person=survivor, role="champion")
    DealContact.objects.create(deal=deal, person=duplicate, role="user")
    # when
    merged = person_merge(survivor=survivor, duplicate=duplicate)
    # then one role is left on the deal: the survivor's
    assert list(DealContact.objects.values_list("deal_id", "person_id", "role")) == [(deal.pk, merged.pk, "champion")]
