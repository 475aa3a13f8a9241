from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from tandem.users.models import ApiToken, User


def test_users_create_gives_role_group_and_login(db):
    # given / when
    call_command(
        "users", "create", "mia", "--role", "marketing", "--password", "s3cret-pass-9", stdout=io.StringIO()
    )
    # then
    user = User.objects.get(username="mia")
    assert user.role == "marketing"
    assert list(user.groups.values_list("name", flat=True)) == ["Marketing"]
    assert user.has_perm("campaigns.change_campaign")
    assert not user.has_perm("crm.delete_deal")
    assert Client().login(username="mia", password="s3cret-pass-9")


def test_users_create_refuses_a_taken_name_and_changes_nothing(db):
    # given
    call_command(
        "users", "create", "mia", "--role", "viewer", "--password", "s3cret-pass-9", stdout=io.StringIO()
    )
    # when
    with pytest.raises(CommandError, match="user 'mia' already exists"):
        call_command("users", "create", "mia", "--role", "admin", "--password", "x-other-pass-1")
    # then
    assert User.objects.get(username="mia").role == "viewer"


def test_users_role_moves_between_groups(db):
    # given
    call_command(
        "users", "create", "tom", "--role", "sales_rep", "--password", "s3cret-pass-9", stdout=io.StringIO()
    )
    # when
    call_command("users", "role", "tom", "sales_manager", stdout=io.StringIO())
    # then
    user = User.objects.get(username="tom")
    assert list(user.groups.values_list("name", flat=True)) == ["Sales manager"]
    assert user.has_perm("crm.change_deal")


def test_token_authenticates_api_and_revoke_stops_it(db):
    # given
    call_command(
        "users", "create", "api", "--role", "viewer", "--password", "s3cret-pass-9", stdout=io.StringIO()
    )
    out = io.StringIO()
    call_command("users", "token", "api", stdout=out, stderr=io.StringIO())
    token = out.getvalue().strip()
    client = Client()
    # when / then
    assert client.get("/api/people", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    call_command("users", "revoke-token", ApiToken.objects.get().prefix, stdout=io.StringIO())
    assert client.get("/api/people", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert ApiToken.objects.get().digest != token  # only the digest is stored


def test_token_can_write_without_csrf_cookie(db):
    # given a token of a role that may create people, and a client that enforces CSRF like a real browser would
    call_command(
        "users", "create", "bot", "--role", "marketing", "--password", "s3cret-pass-9", stdout=io.StringIO()
    )
    out = io.StringIO()
    call_command("users", "token", "bot", stdout=out, stderr=io.StringIO())
    client = Client(enforce_csrf_checks=True)
    # when
    response = client.post(
        "/api/people",
        {"email": "new.lead@example.org", "first_name": "New"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {out.getvalue().strip()}"},
    )
    # then
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "new.lead@example.org"


def test_session_write_without_csrf_token_is_refused(db):
    # given a signed-in browser session without the CSRF header
    call_command(
        "users", "create", "web", "--role", "marketing", "--password", "s3cret-pass-9", stdout=io.StringIO()
    )
    client = Client(enforce_csrf_checks=True)
    client.login(username="web", password="s3cret-pass-9")
    # when
    response = client.post("/api/people", {"email": "x@example.org"}, content_type="application/json")
    # then
    assert response.status_code == 403
    from tandem.crm.models import Person

    assert not Person.objects.filter(email="x@example.org").exists()


def test_only_the_most_specific_nav_item_is_current(db):
    # given a manager, who sees both People and Duplicates
    call_command(
        "users",
        "create",
        "mgr",
        "--role",
        "sales_manager",
        "--password",
        "s3cret-pass-9",
        stdout=io.StringIO(),
    )
    client = Client()
    client.login(username="mgr", password="s3cret-pass-9")
    # when
    items = client.get("/people/duplicates/").context["nav_items"]
    # then
    assert [i["label"] for i in items if i["active"]] == ["Duplicates"]
    assert [i["label"] for i in client.get("/people/").context["nav_items"] if i["active"]] == ["People"]
