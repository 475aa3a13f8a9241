"""Sign-in: lockout per account and per address (django-axes), the admins' unlock path (page, API, CLI), the audit
events, password change and reset, forced resets and TOTP two-factor for admins."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import runpy
import time
from pathlib import Path

import pytest
from axes.helpers import get_client_ip_address
from axes.models import AccessAttempt
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

import tandem.settings
from tandem.core.models import Event
from tandem.users.models import User
from tandem.users.services import api_token_create
from tests.users.factories import UserFactory

PASSWORD = "pw-for-tests-1"


@pytest.fixture(autouse=True)
def _signin_defaults(settings):  # type: ignore[no-untyped-def]
    # The documented defaults, whatever TANDEM_SIGNIN_* the machine running the tests has.
    settings.AXES_FAILURE_LIMIT = 10
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=30)
    settings.SIGNIN_COOLOFF_MINUTES = 30
    settings.ADMIN_2FA = "off"
    # Dozens of password checks per test: a fast hasher keeps them quick (what is tested is the counting).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _sign_in(client: Client, username: str, password: str, address: str = "127.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def _events(kind: str) -> list[Event]:
    return list(Event.objects.filter(kind=kind).order_by("id"))


# ---- lockout ----


def test_twenty_wrong_passwords_lock_the_account_and_address_and_the_right_one_is_refused(client, db):
    # given
    UserFactory(username="ann")
    # when
    statuses = [_sign_in(client, "ann", f"wrong-{i}").status_code for i in range(20)]
    right = _sign_in(client, "ann", PASSWORD)
    # then the 10th failure locks; every later attempt, the right password too, gets the lockout page
    assert statuses == [200] * 9 + [429] * 11
    assert right.status_code == 429
    assert not _signed_in(client)
    assert b"Sign-in is locked for now" in right.content
    assert b"for the account <strong>ann</strong> and from your address (127.0.0.1)" in right.content
    # and the attempts while locked did not push the end further out: 10 failures counted
    assert AccessAttempt.objects.get(username="ann").failures_since_start == 10


def test_failures_for_one_account_from_many_addresses_lock_that_account_only(client, db):
    # given
    UserFactory(username="ann")
    UserFactory(username="bob")
    for i in range(10):
        _sign_in(client, "ann", "wrong", address=f"198.51.100.{i + 1}")
    # when
    ann = _sign_in(Client(), "ann", PASSWORD, address="203.0.113.50")
    bob_client = Client()
    bob = _sign_in(bob_client, "bob", PASSWORD, address="203.0.113.50")
    # then
    assert ann.status_code == 429
    assert b"for the account <strong>ann</strong>." in ann.content
    assert bob.status_code == 302
    assert _signed_in(bob_client)


def test_failures_from_one_address_for_many_accounts_lock_that_address_only(client, db):
    # given
    UserFactory(username="bob")
    for i in range(10):
        _sign_in(client, f"guess{i}", "wrong", address="198.51.100.9")
    # when
    here = _sign_in(Client(), "bob", PASSWORD, address="198.51.100.9")
    elsewhere_client = Client()
    elsewhere = _sign_in(elsewhere_client, "bob", PASSWORD, address="198.51.100.10")
    # then
    assert here.status_code == 429
    assert b"from your address (198.51.100.9)" in here.content
    assert elsewhere.status_code == 302
    assert _signed_in(elsewhere_client)


def test_the_lockout_page_says_what_happened_when_it_ends_and_who_can_unlock(client, db):
    # given
    UserFactory(username="ann")
    for _ in range(9):
        _sign_in(client, "ann", "wrong")
    last = AccessAttempt.objects.get(username="ann")
    # when
    response = _sign_in(client, "ann", "wrong")
    # then
    text = response.content.decode()
    last.refresh_from_db()
    ends = (last.attempt_time + dt.timedelta(minutes=30)).strftime("%H:%M")
    assert response.status_code == 429
    assert f"At {ends} (" in text
    assert "10 failed sign-ins for one account, or from one address, lock it; each failure counts until 30" in text
    assert "<strong>Who can unlock it now.</strong> Any Tandem administrator, on the Sign-in page" in text
    assert 'href="/password-reset/"' in text


def test_the_lock_ends_after_the_cool_off(client, db):
    # given a lock whose failures are 31 minutes old
    UserFactory(username="ann")
    for _ in range(10):
        _sign_in(client, "ann", "wrong")
    AccessAttempt.objects.update(attempt_time=AccessAttempt.objects.get().attempt_time - dt.timedelta(minutes=31))
    # when
    response = _sign_in(client, "ann", PASSWORD)
    # then
    assert response.status_code == 302
    assert _signed_in(client)


def test_api_tokens_work_from_a_locked_address(client, db):
    # given a locked address and a token of a user there
    user = UserFactory(username="api", role="admin")
    _, token = api_token_create(user=user, name="script")
    for i in range(10):
        _sign_in(client, f"guess{i}", "wrong")
    assert _sign_in(Client(), "api", PASSWORD).status_code == 429
    # when
    response = Client().get("/api/sign-in/locks", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR="127.0.0.1")
    # then
    assert response.status_code == 200
    assert [lock["value"] for lock in response.json() if lock["kind"] == "address"] == ["127.0.0.1"]


@pytest.mark.parametrize(
    ("env", "count", "expected"),
    [
        # no proxy: REMOTE_ADDR, whatever the header says
        ({}, 0, ["10.0.0.1", "10.0.0.1", "10.0.0.1", "10.0.0.1"]),
        # one proxy: the address it appended (right-most), never what the client wrote before it
        ({"TANDEM_TRUSTED_PROXY_COUNT": "1"}, 1, ["203.0.113.7", "203.0.113.7", "10.0.0.2", "10.0.0.1"]),
        # the production switch for a TLS proxy means one proxy
        ({"TANDEM_TRUSTED_PROXY": "1"}, 1, ["203.0.113.7", "203.0.113.7", "10.0.0.2", "10.0.0.1"]),
        # two: the second from the right; a header too short to hold it (the proxies were bypassed): the peer
        ({"TANDEM_TRUSTED_PROXY_COUNT": "2"}, 2, ["10.0.0.1", "6.6.6.6", "203.0.113.7", "10.0.0.1"]),
    ],
)
def test_the_client_address_follows_the_trusted_proxy_settings(settings, monkeypatch, env, count, expected):
    # given the sign-in settings as settings.py makes them from the environment
    monkeypatch.delenv("TANDEM_TRUSTED_PROXY", raising=False)
    monkeypatch.delenv("TANDEM_TRUSTED_PROXY_COUNT", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    made = runpy.run_path(str(Path(tandem.settings.__file__)))
    for name in ("AXES_IPWARE_META_PRECEDENCE_ORDER", "AXES_IPWARE_PROXY_COUNT", "AXES_IPWARE_PROXY_ORDER"):
        setattr(settings, name, made.get(name, getattr(settings, name)))
    settings.IPWARE_STRICT = made.get("IPWARE_STRICT", True)
    headers = ["203.0.113.7", "6.6.6.6, 203.0.113.7", "6.6.6.6, 203.0.113.7, 10.0.0.2", ""]
    # when
    addresses = [
        get_client_ip_address(
            RequestFactory().post("/login/", REMOTE_ADDR="10.0.0.1", **({"HTTP_X_FORWARDED_FOR": h} if h else {}))
        )
        for h in headers
    ]
    # then
    assert made["TRUSTED_PROXY_COUNT"] == count
    assert addresses == expected


# ---- the audit events ----


def test_failed_sign_ins_and_the_lockout_write_events(client, db):
    # given
    ann = UserFactory(username="ann")
    # when: one unknown name, then ten wrong passwords for ann, then one refused while locked
    _sign_in(client, "nobody", "wrong", address="198.51.100.1")
    for _ in range(10):
        _sign_in(client, "ann", "wrong", address="198.51.100.2")
    _sign_in(client, "ann", PASSWORD, address="198.51.100.2")
    # then
    failed = _events("signin.failed")
    assert len(failed) == 12
    assert (failed[0].subject_type, failed[0].subject_id) == ("", None)
    assert failed[0].data == {"username": "nobody", "address": "198.51.100.1"}
    assert (failed[1].subject_type, failed[1].subject_id, failed[1].actor_id) == ("users.user", ann.pk, None)
    assert failed[1].data == {"username": "ann", "address": "198.51.100.2"}
    assert failed[11].data == {"username": "ann", "address": "198.51.100.2", "refused": "locked"}
    [locked] = _events("signin.locked")
    attempt = AccessAttempt.objects.get(username="ann")
    assert locked.subject_id == ann.pk
    assert locked.data == {
        "username": "ann",
        "address": "198.51.100.2",
        "locked": ["account", "address"],
        "failures": 10,
        "until": (attempt.attempt_time + dt.timedelta(minutes=30)).isoformat(),
    }


# ---- unlocking ----


def _lock(username: str = "ann", address: str = "198.51.100.2") -> None:
    client = Client()
    for _ in range(10):
        _sign_in(client, username, "wrong", address=address)


def test_an_admin_unlocks_an_account_from_the_sign_in_page(client, db):
    # given
    admin = UserFactory(username="boss", role="admin")
    ann = UserFactory(username="ann")
    _lock()
    client.force_login(admin)
    page = client.get("/sign-in/")
    # when
    response = client.post("/sign-in/unlock/", {"kind": "account", "value": "ann"})
    # then
    assert page.status_code == 200
    assert b"Account <strong>ann</strong>" in page.content
    assert b"Address <span class=\"mono\">198.51.100.2</span>" in page.content
    assert response.status_code == 302
    assert response["Location"] == "/sign-in/"
    ann_client = Client()
    assert _sign_in(ann_client, "ann", PASSWORD, address="203.0.113.9").status_code == 302
    [event] = _events("signin.unlocked")
    assert (event.subject_id, event.actor_id, event.reason) == (ann.pk, admin.pk, "unlocked by an admin")
    assert event.data == {"username": "ann", "failures_cleared": 10}


def test_the_sign_in_page_is_for_admins_only_and_a_rep_unlocks_nothing(client, db):
    # given
    client.force_login(UserFactory(role="sales_rep"))
    _lock()
    # when
    page = client.get("/sign-in/")
    unlock = client.post("/sign-in/unlock/", {"kind": "account", "value": "ann"})
    # then
    assert page.status_code == 403
    assert unlock.status_code == 403
    assert AccessAttempt.objects.get(username="ann").failures_since_start == 10
    assert _events("signin.unlocked") == []


def test_the_sign_in_page_reads_in_a_fixed_number_of_queries(client, db, django_assert_num_queries):
    # given
    client.force_login(UserFactory(role="admin"))
    _lock("ann", "198.51.100.2")
    _lock("bob", "198.51.100.3")
    # when / then: session, user, locks by account (2) and by address (2), forced resets, reset options, events
    with django_assert_num_queries(9):
        response = client.get("/sign-in/")
    assert response.status_code == 200


def test_the_api_lists_locks_and_unlocks_an_address(client, db, django_assert_num_queries):
    # given
    admin = UserFactory(username="boss", role="admin")
    UserFactory(username="bob")
    for i in range(10):
        _sign_in(Client(), f"guess{i}", "wrong", address="198.51.100.9")
    client.force_login(admin)
    # when
    # session, user, accounts over the limit (none), addresses over the limit and their attempts
    with django_assert_num_queries(5):
        locks = client.get("/api/sign-in/locks")
    response = client.post("/api/sign-in/unlock", {"address": "198.51.100.9"}, content_type="application/json")
    # then
    assert locks.status_code == 200
    assert [(lock["kind"], lock["value"], lock["failures"]) for lock in locks.json()] == [
        ("address", "198.51.100.9", 10)
    ]
    assert response.status_code == 200
    assert response.json() == {"username": "", "address": "198.51.100.9", "failures_cleared": 10}
    assert _sign_in(Client(), "bob", PASSWORD, address="198.51.100.9").status_code == 302
    [event] = _events("signin.unlocked")
    assert (event.subject_type, event.actor_id, event.data) == (
        "",
        admin.pk,
        {"address": "198.51.100.9", "failures_cleared": 10},
    )


def test_the_unlock_api_refuses_non_admins_and_bad_input_and_changes_nothing(client, db):
    # given
    _lock()
    rep = Client()
    rep.force_login(UserFactory(role="sales_rep"))
    client.force_login(UserFactory(role="admin"))
    # when
    refused = rep.post("/api/sign-in/unlock", {"username": "ann"}, content_type="application/json")
    both = client.post(
        "/api/sign-in/unlock", {"username": "ann", "address": "1.2.3.4"}, content_type="application/json"
    )
    bad = client.post("/api/sign-in/unlock", {"address": "not-an-ip"}, content_type="application/json")
    unknown = client.post("/api/sign-in/unlock", {"username": "zed"}, content_type="application/json")
    # then
    assert (refused.status_code, refused.json()) == (403, {"detail": "Only admins manage sign-ins."})
    assert both.status_code == 422
    assert both.json()["field"] == "username"
    assert bad.status_code == 422
    assert bad.json() == {"detail": "'not-an-ip' is not an IP address", "field": "address", "value": "not-an-ip"}
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no failed sign-ins recorded for account 'zed'", "field": "username", "value": "zed"}
    assert AccessAttempt.objects.get(username="ann").failures_since_start == 10
    assert _events("signin.unlocked") == []


def test_the_cli_unlocks_an_account_or_an_address(db):
    # given
    UserFactory(username="ann")
    UserFactory(username="bob")
    _lock("ann", "198.51.100.2")
    for i in range(10):
        _sign_in(Client(), f"guess{i}", "wrong", address="198.51.100.9")
    out = io.StringIO()
    # when
    call_command("users", "unlock", "ann", stdout=out)
    call_command("users", "unlock", "--ip", "198.51.100.9", "--reason", "ticket 42", stdout=out)
    # then
    assert out.getvalue().splitlines() == [
        "unlocked account ann (10 failed sign-ins cleared)",
        "unlocked address 198.51.100.9 (10 failed sign-ins cleared)",
    ]
    assert _sign_in(Client(), "ann", PASSWORD, address="198.51.100.3").status_code == 302
    assert _sign_in(Client(), "bob", PASSWORD, address="198.51.100.9").status_code == 302
    assert [e.reason for e in _events("signin.unlocked")] == ["unlocked with the tandem command", "ticket 42"]
    with pytest.raises(CommandError, match="one of the two"):
        call_command("users", "unlock", "ann", "--ip", "1.2.3.4")
    with pytest.raises(CommandError, match="no failed sign-ins recorded for account 'ann'"):
        call_command("users", "unlock", "ann")


# ---- password change and reset ----


def test_a_user_changes_their_password_with_the_old_one(client, db):
    # given
    user = UserFactory(username="ann")
    client.force_login(user)
    # when
    page = client.get("/account/password/")
    wrong_old = client.post(
        "/account/password/",
        {"old_password": "nope", "new_password1": "a-new-long-pass-7", "new_password2": "a-new-long-pass-7"},
    )
    weak = client.post(
        "/account/password/", {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"}
    )
    done = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": "a-new-long-pass-7", "new_password2": "a-new-long-pass-7"},
    )
    # then
    assert page.status_code == 200
    assert wrong_old.status_code == 200
    assert b"Your old password was entered incorrectly" in wrong_old.content
    assert b"This password is too short. It must contain at least 10 characters." in weak.content
    assert b"This password is entirely numeric." in weak.content
    assert done.status_code == 302
    assert done["Location"] == "/account/password/done/"
    assert _signed_in(client)
    user.refresh_from_db()
    assert user.check_password("a-new-long-pass-7")
    [event] = _events("user.password_changed")
    assert (event.subject_id, event.actor_id, event.data) == (user.pk, user.pk, {"how": "changed", "forced": False})


def test_the_account_page_and_user_menu_link_to_the_password_change(client, db):
    # given
    client.force_login(UserFactory(role="viewer"))
    # when
    home = client.get("/home/viewer/")
    account = client.get("/account/")
    login_page = Client().get("/login/")
    # then
    assert b'href="/account/"' in home.content
    assert b'href="/account/password/"' in account.content
    assert b"Two-factor" not in account.content
    assert b'href="/password-reset/"' in login_page.content


def test_a_password_reset_by_e_mail_sets_a_new_password_and_unlocks_the_account(client, db, settings):
    # given a locked account
    settings.BASE_URL = "https://tandem.example.com"
    user = UserFactory(username="ann", email="ann@example.com")
    _lock("ann", "198.51.100.2")
    # when
    sent = client.post("/password-reset/", {"email": "ANN@example.com"}, HTTP_HOST="localhost")
    [message] = mail.outbox
    link = re.search(r"https://tandem\.example\.com(/password-reset/\S+/)", message.body)
    assert link is not None
    form = client.get(link.group(1), follow=True)
    done = client.post(
        form.request["PATH_INFO"], {"new_password1": "a-new-long-pass-7", "new_password2": "a-new-long-pass-7"}
    )
    # then
    assert sent.status_code == 302
    assert sent["Location"] == "/password-reset/sent/"
    assert message.to == ["ann@example.com"]
    assert message.subject == "Set a new Tandem password"
    assert b"Set a new password" in form.content
    assert done.status_code == 302
    assert done["Location"] == "/password-reset/done/"
    user.refresh_from_db()
    assert user.check_password("a-new-long-pass-7")
    assert _sign_in(Client(), "ann", "a-new-long-pass-7", address="203.0.113.5").status_code == 302
    [changed] = _events("user.password_changed")
    assert changed.data == {"how": "reset", "forced": False}
    [unlocked] = _events("signin.unlocked")
    assert (unlocked.actor_id, unlocked.reason) == (user.pk, "password reset by e-mail")
    # and the link works once
    again = client.get(link.group(1))
    assert b"This link does not work" in again.content


def test_a_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client, db):
    # given
    UserFactory(username="ann", email="ann@example.com")
    # when
    response = client.post("/password-reset/", {"email": "who@example.com"}, follow=True)
    # then
    assert response.redirect_chain == [("/password-reset/sent/", 302)]
    assert b"If that address belongs to a Tandem account" in response.content
    assert mail.outbox == []


# ---- forced reset ----


def test_a_forced_reset_sends_every_page_to_the_change_password_page_until_changed(client, db):
    # given an admin forces a reset from the sign-in page
    admin = UserFactory(username="boss", role="admin")
    ann = UserFactory(username="ann", role="sales_rep")
    _, token = api_token_create(user=ann, name="script")
    admin_client = Client()
    admin_client.force_login(admin)
    forced = admin_client.post("/sign-in/force-reset/", {"user_id": ann.pk})
    client.force_login(ann)
    # when
    home = client.get("/home/rep/")
    people = client.get("/people/")
    htmx = client.get("/people/", HTTP_HX_REQUEST="true")
    api_session = client.get("/api/people")
    api_token = Client().get("/api/people", HTTP_AUTHORIZATION=f"Bearer {token}")
    change_page = client.get("/account/password/")
    # then
    assert forced.status_code == 302
    assert (home.status_code, home["Location"]) == (302, "/account/password/")
    assert people["Location"] == "/account/password/"
    assert (htmx.status_code, htmx["HX-Redirect"]) == (204, "/account/password/")
    assert api_session.status_code == 403
    assert api_session.json() == {
        "detail": "password change required: an administrator asked you to change it at /account/password/",
        "field": "session",
        "value": "password",
    }
    assert api_token.status_code == 200
    assert b"An administrator asked you to change your password" in change_page.content
    [event] = _events("user.password_reset_forced")
    assert (event.subject_id, event.actor_id) == (ann.pk, admin.pk)
    # when the user changes it
    client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": "a-new-long-pass-7", "new_password2": "a-new-long-pass-7"},
    )
    # then pages open again
    ann.refresh_from_db()
    assert ann.must_change_password is False
    assert client.get("/home/rep/").status_code == 200
    assert _events("user.password_changed")[0].data == {"how": "changed", "forced": True}


def test_the_force_reset_api_is_for_admins_only(client, db):
    # given
    ann = UserFactory(username="ann")
    rep = Client()
    rep.force_login(UserFactory(role="sales_rep"))
    client.force_login(UserFactory(role="admin"))
    # when
    refused = rep.post(f"/api/users/{ann.pk}/force-password-reset")
    missing = client.post("/api/users/999999/force-password-reset")
    done = client.post(f"/api/users/{ann.pk}/force-password-reset")
    # then
    assert refused.status_code == 403
    assert missing.status_code == 404
    assert missing.json()["field"] == "id"
    assert done.status_code == 200
    assert done.json() == {"id": ann.pk, "username": "ann", "must_change_password": True}
    assert len(_events("user.password_reset_forced")) == 1


def test_the_cli_forces_a_reset(db):
    # given
    UserFactory(username="ann")
    out = io.StringIO()
    # when
    call_command("users", "force-reset", "ann", stdout=out)
    # then
    assert out.getvalue() == "ann must change their password at their next page\n"
    assert User.objects.get(username="ann").must_change_password is True
    with pytest.raises(CommandError, match="no user named 'zed'"):
        call_command("users", "force-reset", "zed")


# ---- two-factor for admins ----


def _code(key_hex: str, ahead: int = 0) -> str:
    totp = TOTP(bytes.fromhex(key_hex))
    totp.time = time.time() + ahead
    return f"{totp.token():06d}"


def _enrol(client: Client, user: User) -> TOTPDevice:
    client.get("/account/two-factor/")
    key = client.session["signin_totp_pending_key"]
    response = client.post("/account/two-factor/", {"code": _code(key)})
    assert response.status_code == 302
    return TOTPDevice.objects.get(user=user)


def test_an_admin_enrols_a_totp_device_and_then_signs_in_with_a_code(client, db, settings):
    # given
    settings.ADMIN_2FA = "optional"
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    admin = UserFactory(username="boss", role="admin")
    client.force_login(admin)
    page = client.get("/account/two-factor/")
    key = client.session["signin_totp_pending_key"]
    wrong = client.post("/account/two-factor/", {"code": "000000" if _code(key) != "000000" else "111111"})
    # when
    enrolled = client.post("/account/two-factor/", {"code": _code(key)})
    # then
    assert page.status_code == 200
    assert b"<svg" in page.content
    assert b"<script" not in page.content.split(b"<svg")[1].split(b"</svg>")[0]
    assert wrong.status_code == 422
    assert enrolled.status_code == 302
    device = TOTPDevice.objects.get(user=admin)
    assert device.confirmed is True
    assert [e.subject_id for e in _events("user.two_factor_enrolled")] == [admin.pk]
    # when the admin signs in again
    fresh = Client()
    signed = _sign_in(fresh, "boss", PASSWORD)
    gated = fresh.get("/home/admin/")
    api = fresh.get("/api/sign-in/locks")
    bad_code = fresh.post("/login/code/", {"code": "12345", "next": "/home/admin/"})
    good_code = fresh.post("/login/code/", {"code": _code(device.key, ahead=30), "next": "/home/admin/"})
    # then
    assert signed.status_code == 302
    assert (gated.status_code, gated["Location"]) == (302, "/login/code/?next=%2Fhome%2Fadmin%2F")
    assert api.status_code == 403
    assert api.json()["value"] == "code"
    assert bad_code.status_code == 422
    assert b"That code is not right" in bad_code.content
    assert (good_code.status_code, good_code["Location"]) == (302, "/home/admin/")
    assert fresh.get("/home/admin/").status_code == 200
    failed = _events("signin.failed")
    assert [e.data for e in failed] == [{"username": "boss", "address": "127.0.0.1", "step": "code"}]


def test_wrong_codes_count_toward_the_lockout(client, db, settings):
    # given
    settings.ADMIN_2FA = "optional"
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.AXES_FAILURE_LIMIT = 3
    admin = UserFactory(username="boss", role="admin")
    enrol_client = Client()
    enrol_client.force_login(admin)
    _enrol(enrol_client, admin)
    assert _sign_in(client, "boss", PASSWORD).status_code == 302
    # when
    statuses = [client.post("/login/code/", {"code": "abc"}).status_code for _ in range(3)]
    # then
    assert statuses == [422, 422, 429]
    assert not _signed_in(client)
    assert _sign_in(Client(), "boss", PASSWORD).status_code == 429
    assert len(_events("signin.locked")) == 1


def test_required_two_factor_sends_an_admin_without_a_device_to_enrol(client, db, settings):
    # given
    settings.ADMIN_2FA = "required"
    admin = UserFactory(username="boss", role="admin")
    rep = Client()
    rep.force_login(UserFactory(role="sales_rep"))
    client.force_login(admin)
    # when
    home = client.get("/home/admin/")
    api = client.get("/api/sign-in/locks")
    rep_home = rep.get("/home/rep/")
    # then
    assert (home.status_code, home["Location"]) == (302, "/account/two-factor/")
    assert api.status_code == 403
    assert api.json()["value"] == "enrol"
    assert rep_home.status_code == 200
    # when the admin enrols
    _enrol(client, admin)
    # then the session counts as verified and pages open
    assert client.get("/home/admin/").status_code == 200


def test_two_factor_off_asks_no_code_and_offers_no_enrolment(client, db):
    # given an admin who enrolled while it was on
    admin = UserFactory(username="boss", role="admin")
    TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    # when
    signed = _sign_in(client, "boss", PASSWORD)
    home = client.get("/home/admin/")
    enrol = client.get("/account/two-factor/")
    # then
    assert signed.status_code == 302
    assert home.status_code == 200
    assert enrol.status_code == 403


def test_the_cli_removes_a_lost_device(db):
    # given
    admin = UserFactory(username="boss", role="admin")
    TOTPDevice.objects.create(user=admin, name="phone", confirmed=True)
    out = io.StringIO()
    # when
    call_command("users", "two-factor-remove", "boss", stdout=out)
    # then
    assert out.getvalue() == "removed the two-factor device of boss\n"
    assert not TOTPDevice.objects.filter(user=admin).exists()
    assert json.loads(json.dumps(_events("user.two_factor_removed")[0].data)) == {}
