from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tandem.core.models import Event
from tandem.crm.models import Account, Deal, LostReason, Person, StageChange
from tandem.crm.services import deal_close, deal_create
from tandem.users.services import api_token_create
from tests.campaigns.factories import TouchpointFactory
from tests.crm.factories import AccountFactory, PersonFactory
from tests.users.factories import UserFactory

T0 = dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def rep(db, client):
    user = UserFactory(role="sales_rep")
    client.force_login(user)
    return user


@pytest.fixture
def viewer(db, client):
    user = UserFactory(role="viewer")
    client.force_login(user)
    return user


def _counts() -> tuple[int, ...]:
    return (
        Person.objects.count(),
        Account.objects.count(),
        Deal.objects.count(),
        StageChange.objects.count(),
        Event.objects.count(),
        LostReason.objects.count(),
    )


# ---- authentication and permissions ----


def test_without_authentication_every_endpoint_answers_401(client, db):
    # given
    person = PersonFactory()
    before = _counts()
    # when
    responses = [
        client.get("/api/people"),
        client.get(f"/api/people/{person.pk}"),
        client.post("/api/people", {"email": "a@b.example"}, content_type="application/json"),
        client.post(f"/api/people/{person.pk}/stage", {"to_stage": "mql"}, content_type="application/json"),
        client.get("/api/deals"),
    ]
    # then
    assert [r.status_code for r in responses] == [401] * 5
    assert responses[0].json() == {"detail": "authentication required"}
    assert _counts() == before


def test_a_personal_token_authenticates(client, db):
    # given
    user = UserFactory(role="viewer")
    _, token = api_token_create(user=user, name="script")
    PersonFactory()
    # when
    response = client.get("/api/people", headers={"Authorization": f"Bearer {token}"})
    # then
    assert response.status_code == 200
    assert len(response.json()["items"]) == 1


def test_a_viewer_may_read_but_not_write(client, viewer):
    # given
    person = PersonFactory()
    deal = deal_create(person=PersonFactory(), amount=Decimal("10"))
    before = _counts()
    # when
    read = client.get(f"/api/people/{person.pk}")
    create = client.post("/api/people", {"email": "new@x.example"}, content_type="application/json")
    patch = client.patch(f"/api/people/{person.pk}", {"job_title": "CEO"}, content_type="application/json")
    stage = client.post(
        f"/api/people/{person.pk}/stage", {"to_stage": "mql"}, content_type="application/json"
    )
    new_deal = client.post(
        "/api/deals", {"person_id": person.pk, "amount": "5"}, content_type="application/json"
    )
    close = client.post(f"/api/deals/{deal.pk}/close", {"won": True}, content_type="application/json")
    # then
    assert read.status_code == 200
    assert [r.status_code for r in (create, patch, stage, new_deal, close)] == [403] * 5
    assert create.json() == {"detail": "Viewer may not create people (needs permission crm.add_person)"}
    assert stage.json() == {
        "detail": "Viewer may not change lifecycle stages (needs permission crm.change_person)"
    }
    assert _counts() == before
    assert Person.objects.get(pk=person.pk).job_title == "Head of Operations"


def test_marketing_may_edit_people_but_not_open_deals(client, db):
    # given
    client.force_login(UserFactory(role="marketing"))
    person = PersonFactory()
    # when
    patch = client.patch(f"/api/people/{person.pk}", {"job_title": "CMO"}, content_type="application/json")
    deal = client.post("/api/deals", {"person_id": person.pk, "amount": "5"}, content_type="application/json")
    # then
    assert patch.status_code == 200
    assert deal.status_code == 403
    assert Deal.objects.count() == 0


# ---- people ----


def test_list_people_walks_every_page_with_next_cursor(client, rep):
    # given 9 people on 2 timestamps
    for i in range(9):
        PersonFactory(owner=rep, created_at=T0 + dt.timedelta(hours=i % 2))
    expected = list(Person.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    # when
    ids, cursor, pages = [], "", 0
    while True:
        body = client.get("/api/people", {"limit": 4, "cursor": cursor}).json()
        ids += [p["id"] for p in body["items"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        cursor = body["next_cursor"]
    # then
    assert ids == expected
    assert pages == 3


def test_list_people_item_fields(client, rep):
    # given
    account = AccountFactory(owner=rep, name="Northwind")
    person = PersonFactory(
        email="maria@northwind.example", first_name="Maria", last_name="Weber", account=account, owner=rep
    )
    # when
    body = client.get("/api/people", {"q": "maria w"}).json()
    # then
    assert body == {
        "items": [
            {
                "id": person.pk,
                "email": "maria@northwind.example",
                "first_name": "Maria",
                "last_name": "Weber",
                "name": "Maria Weber",
                "job_title": "Head of Operations",
                "phone": "",
                "company": "Northwind",
                "account_id": account.pk,
                "owner_id": rep.pk,
                "lifecycle_stage": "lead",
                "lead_status": "new",
                "original_channel": "paid_search",
                "latest_channel": "paid_search",
                "consent_email": False,
                "consent_calls": False,
                "created_at": "2025-03-03T09:00:00Z",
            }
        ],
        "next_cursor": None,
        "prev_cursor": None,
    }


def test_list_people_filters(client, rep):
    # given
    a = PersonFactory(stage="mql", owner=rep, original_channel="webinar")
    b = PersonFactory(owner=rep, stage="lead", original_channel="webinar")
    PersonFactory(owner=None, stage="lead", original_channel="webinar")
    # when
    by_stage = client.get("/api/people", {"stage": "mql"}).json()["items"]
    unassigned = client.get("/api/people", {"owner": "none"}).json()["items"]
    by_channel = client.get("/api/people", {"channel": "webinar"}).json()["items"]
    # then (the unassigned pool is the managers' and marketing's to see, not a rep's: tandem.users.access)
    assert [p["id"] for p in by_stage] == [a.pk]
    assert unassigned == []
    assert [p["id"] for p in by_channel] == [b.pk, a.pk]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"stage": "champion"}, "unknown lifecycle stage 'champion'"),
        ({"channel": "tv"}, "unknown channel 'tv'"),
        ({"owner": "x"}, "owner must be a user id or 'none', got 'x'"),
        ({"cursor": "garbage"}, "cursor 'garbage' is not a valid page cursor"),
        ({"limit": 201}, "limit: Input should be less than or equal to 200"),
        ({"limit": 0}, "limit: Input should be greater than or equal to 1"),
        ({"limit": "many"}, "limit: Input should be a valid integer, unable to parse string as an integer"),
        ({"q": "a\x00b"}, "q must not contain NUL characters"),
    ],
)
def test_list_people_bad_input_is_422_naming_the_field(client, rep, query, detail):
    # given / when
    response = client.get("/api/people", query)
    # then
    assert response.status_code == 422
    assert response.json()["detail"] == detail


def test_person_detail_has_account_history_touchpoints_and_deals(client, rep):
    # given
    account = AccountFactory(owner=rep, name="Northwind", domain="northwind.example")
    person = PersonFactory(owner=rep, account=account)
    TouchpointFactory(person=person, occurred_at=T0, channel="webinar", kind="webinar")
    deal = deal_create(person=person, amount=Decimal("1200.50"), created_at=T0 + dt.timedelta(days=1))
    # when
    body = client.get(f"/api/people/{person.pk}").json()
    # then
    assert body["account"] == {
        "id": account.pk,
        "name": "Northwind",
        "domain": "northwind.example",
        "industry": "software",
        "size_band": "51-200",
        "country": "DE",
    }
    assert [(c["from_stage"], c["to_stage"], c["reason"]) for c in body["stage_history"]] == [
        ("", "lead", "created"),
        ("lead", "opportunity", f"deal {deal.pk} opened"),
    ]
    assert [(t["channel"], t["kind"], t["occurred_at"]) for t in body["touchpoints"]] == [
        ("webinar", "webinar", "2025-03-03T09:00:00Z")
    ]
    assert [(d["id"], d["amount"], d["stage"]) for d in body["deals"]] == [(deal.pk, "1200.50", "open")]
    assert body["lifecycle_stage"] == "opportunity"
    assert (body["activities"], body["questions"], body["touchpoints_truncated"]) == ([], [], False)


@pytest.mark.parametrize(
    ("path", "status"), [("/api/people/424242", 404), ("/api/people/99999999999999999999", 422)]
)
def test_person_detail_of_an_unknown_id(client, rep, path, status):
    # given / when
    response = client.get(path)
    # then
    assert response.status_code == status
    if status == 404:
        assert response.json() == {"detail": "no person with id 424242", "field": "id", "value": "424242"}


def test_create_person(client, rep):
    # given
    payload = {
        "email": "Sara.Lopez@Initech.example",
        "first_name": "Sara",
        "last_name": "Lopez",
        "company": "Initech",
        "owner_id": rep.pk,
        "stage": "mql",
        "original_channel": "referral",
        "consent_email": True,
    }
    # when
    response = client.post("/api/people", payload, content_type="application/json")
    # then
    assert response.status_code == 201
    body = response.json()
    person = Person.objects.get(pk=body["id"])
    assert (body["email"], body["company"], body["owner_id"], body["lifecycle_stage"]) == (
        "Sara.Lopez@Initech.example",
        "Initech",
        rep.pk,
        "mql",
    )
    assert (person.email_normalized, person.account.domain) == (
        "sara.lopez@initech.example",
        "initech.example",
    )
    change = StageChange.objects.get(person=person)
    assert (change.to_stage, change.by_user, change.reason) == ("mql", rep, "created via API")


@pytest.mark.parametrize(
    ("payload", "status", "detail", "field"),
    [
        ({"email": "not-an-email"}, 422, "email 'not-an-email' is not a valid email address: an email address must have an @-sign", "email"),
        (
            {"email": "taken@acme.example"},
            409,
            "a person with email taken@acme.example already exists",
            "email",
        ),
        (
            {"email": "x@new.example", "stage": "champion"},
            422,
            "unknown lifecycle stage 'champion'",
            "stage",
        ),
        (
            {"email": "x@new.example", "stage": "sal"},
            409,
            "moving from a new person to SAL is not allowed",
            "to_stage",
        ),
        ({"email": "x@new.example", "owner_id": 424242}, 422, "no user with id 424242", "owner_id"),
        (
            {"email": "x@new.example", "original_channel": "tv"},
            422,
            "original_channel: Value error, unknown channel",
            None,
        ),
        (
            {"email": "x@new.example", "first_name": "x" * 101},
            422,
            "first_name: String should have at most 100",
            None,
        ),
        (
            {"email": "x@new.example", "first_name": "a\x00"},
            422,
            "first_name: Value error, must not contain NUL",
            None,
        ),
        (
            {"email": "x@new.example", "lifecycle_stage": "customer"},
            422,
            "lifecycle_stage: Extra inputs are not permitted",
            None,
        ),
        ({"email": 5}, 422, "email: Input should be a valid string", None),
    ],
)
def test_create_person_refusals_write_nothing(client, rep, payload, status, detail, field):
    # given
    PersonFactory(owner=rep, email="taken@acme.example")
    before = _counts()
    # when
    response = client.post("/api/people", payload, content_type="application/json")
    # then
    assert response.status_code == status
    assert detail in response.json()["detail"]
    if field:
        assert response.json()["field"] == field
    assert _counts() == before


def test_create_person_with_a_broken_json_body_is_400(client, rep):
    # given
    before = _counts()
    # when
    response = client.post("/api/people", "{not json", content_type="application/json")
    # then
    assert response.status_code == 400
    assert response.json() == {"detail": "Cannot parse request body"}
    assert _counts() == before


def test_patch_changes_only_the_fields_sent(client, rep):
    # given
    person = PersonFactory(owner=rep, first_name="Sara", last_name="Lopez", phone="123")
    # when
    response = client.patch(
        f"/api/people/{person.pk}", {"first_name": "Sarah"}, content_type="application/json"
    )
    # then
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["phone"]) == ("Sarah Lopez", "123")
    assert Event.objects.get(kind="person.updated").data == {"changes": {"first_name": ["Sara", "Sarah"]}}


def test_patch_refusals(client, rep):
    # given
    person = PersonFactory(owner=rep, first_name="Sara")
    before = _counts()
    # when
    unknown_field = client.patch(
        f"/api/people/{person.pk}", {"email": "x@y.example"}, content_type="application/json"
    )
    null = client.patch(f"/api/people/{person.pk}", {"first_name": None}, content_type="application/json")
    missing = client.patch("/api/people/424242", {"first_name": "X"}, content_type="application/json")
    # then
    assert (unknown_field.status_code, null.status_code, missing.status_code) == (422, 422, 404)
    assert unknown_field.json()["detail"] == "email: Extra inputs are not permitted"
    assert null.json()["detail"] == "first_name: Input should be a valid string"
    assert _counts() == before
    assert Person.objects.get(pk=person.pk).first_name == "Sara"


def test_stage_move_records_who_and_why(client, rep):
    # given
    person = PersonFactory(owner=rep)
    # when
    response = client.post(
        f"/api/people/{person.pk}/stage",
        {"to_stage": "sal", "reason": "call booked"},
        content_type="application/json",
    )
    # then
    assert response.status_code == 200
    body = response.json()
    assert (body["from_stage"], body["to_stage"], body["by_user_id"], body["reason"]) == (
        "lead",
        "sal",
        rep.pk,
        "call booked",
    )
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "sal"


@pytest.mark.parametrize(
    ("to_stage", "status", "detail"),
    [
        ("lead", 409, "moving from Customer to Lead is not allowed"),
        ("champion", 422, "unknown lifecycle stage 'champion'"),
    ],
)
def test_refused_stage_move_changes_nothing(client, rep, to_stage, status, detail):
    # given
    person = PersonFactory(owner=rep, stage="customer")
    before = _counts()
    # when
    response = client.post(
        f"/api/people/{person.pk}/stage", {"to_stage": to_stage}, content_type="application/json"
    )
    # then
    assert response.status_code == status
    assert detail in response.json()["detail"]
    assert (response.json()["field"], response.json()["value"]) == ("to_stage", to_stage)
    assert _counts() == before
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "customer"


def test_stage_move_of_an_unknown_person_is_404(client, rep):
    # given / when
    response = client.post("/api/people/424242/stage", {"to_stage": "mql"}, content_type="application/json")
    # then
    assert response.status_code == 404
    assert response.json()["detail"] == "no person with id 424242"


# ---- deals ----


def test_open_list_and_close_a_deal(client, rep):
    # given
    person = PersonFactory(owner=rep)
    # when
    created = client.post(
        "/api/deals",
        {"person_id": person.pk, "amount": "2500.00", "name": "Pilot"},
        content_type="application/json",
    )
    deal_id = created.json()["id"]
    listed = client.get("/api/deals", {"stage": "open"})
    closed = client.post(f"/api/deals/{deal_id}/close", {"won": True}, content_type="application/json")
    # then
    assert created.status_code == 201
    assert (created.json()["amount"], created.json()["owner_id"], created.json()["stage"]) == (
        "2500.00",
        rep.pk,
        "open",
    )
    assert [d["id"] for d in listed.json()["items"]] == [deal_id]
    assert closed.status_code == 200
    assert closed.json()["stage"] == "won" and closed.json()["closed_at"] is not None
    assert Person.objects.get(pk=person.pk).lifecycle_stage == "customer"


def test_close_a_deal_as_lost_with_a_reason(client, rep):
    # given
    deal = deal_create(person=PersonFactory(owner=rep), amount=Decimal("100"))
    # when
    response = client.post(
        f"/api/deals/{deal.pk}/close",
        {"won": False, "lost_reason": "  No   budget "},
        content_type="application/json",
    )
    # then
    assert response.status_code == 200
    assert (response.json()["stage"], response.json()["lost_reason"]) == ("lost", "No budget")


@pytest.mark.parametrize(
    ("payload", "detail"),
    [
        ({"amount": "-5"}, "amount must not be negative, got -5"),
        ({"amount": "NaN"}, "amount: Input should be a finite number"),
        ({"amount": "1e20"}, "amount: Decimal input should have no more than 14 digits in total"),
        ({"amount": "1.234"}, "amount: Decimal input should have no more than 2 decimal places"),
        ({"amount": "10", "currency": "euro"}, "currency: String should match pattern '^[A-Z]{3}$'"),
        ({"amount": "10", "person_id": 424242}, "no person with id 424242"),
        ({"amount": "10", "owner_id": 424242}, "no user with id 424242"),
    ],
)
def test_bad_deal_input_is_422_and_writes_nothing(client, rep, payload, detail):
    # given
    person = PersonFactory(owner=rep)
    before = _counts()
    # when
    response = client.post("/api/deals", {"person_id": person.pk, **payload}, content_type="application/json")
    # then
    assert response.status_code == 422
    assert response.json()["detail"] == detail
    assert _counts() == before


def test_closing_refusals_change_nothing(client, rep):
    # given
    open_deal = deal_create(person=PersonFactory(owner=rep), amount=Decimal("100"))
    won = deal_create(person=PersonFactory(owner=rep), amount=Decimal("100"))
    deal_close(deal=won, won=True)
    before = _counts()
    # when
    no_reason = client.post(
        f"/api/deals/{open_deal.pk}/close", {"won": False}, content_type="application/json"
    )
    twice = client.post(
        f"/api/deals/{won.pk}/close",
        {"won": False, "lost_reason": "Brand new reason"},
        content_type="application/json",
    )
    unknown = client.post("/api/deals/424242/close", {"won": True}, content_type="application/json")
    negative = client.post(
        f"/api/deals/{open_deal.pk}/close", {"won": True, "amount": "-1"}, content_type="application/json"
    )
    # then
    assert (no_reason.status_code, twice.status_code, unknown.status_code, negative.status_code) == (
        422,
        409,
        404,
        422,
    )
    assert no_reason.json()["detail"] == "a lost deal needs a lost reason"
    assert twice.json()["detail"] == f"deal {won.pk} is already won"
    assert unknown.json()["detail"] == "no deal with id 424242"
    assert _counts() == before
    assert Deal.objects.get(pk=open_deal.pk).stage == "open"


def test_deal_list_pages_and_filters(client, rep):
    # given
    mine = [deal_create(person=PersonFactory(owner=rep), amount=Decimal(i), owner=rep) for i in range(3)]
    other = deal_create(person=PersonFactory(), amount=Decimal("9"))
    # when marketing, who sees every deal, lists them
    client.force_login(UserFactory(role="marketing"))
    first = client.get("/api/deals", {"owner": str(rep.pk), "limit": 2}).json()
    second = client.get(
        "/api/deals", {"owner": str(rep.pk), "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    by_person = client.get("/api/deals", {"person_id": other.person_id}).json()
    bad = client.get("/api/deals", {"stage": "maybe"})
    # then
    assert [d["id"] for d in first["items"] + second["items"]] == [d.pk for d in reversed(mine)]
    assert second["next_cursor"] is None
    assert [d["id"] for d in by_person["items"]] == [other.pk]
    assert bad.status_code == 422 and bad.json()["detail"] == "unknown deal stage 'maybe'"


def test_openapi_schema_documents_every_endpoint(client, rep):
    # given / when
    schema = client.get("/api/openapi.json").json()
    # then
    operations = {
        (method.upper(), path): op["summary"]
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    }
    assert {
        ("GET", "/api/people"),
        ("GET", "/api/people/{person_id}"),
        ("POST", "/api/people"),
        ("PATCH", "/api/people/{person_id}"),
        ("POST", "/api/people/{person_id}/stage"),
        ("GET", "/api/deals"),
        ("POST", "/api/deals"),
        ("POST", "/api/deals/{deal_id}/close"),
    } <= set(operations)
    docs = {
        (method.upper(), path): op.get("description", "")
        for path, ops in schema["paths"].items()
        for method, op in ops.items()
    }
    assert docs[("POST", "/api/people/{person_id}/stage")].startswith(
        "Move a person to another lifecycle stage"
    )
