"""Users and teams over the API, for admins: list (keyset pages, filters, pinned queries), create with a role and
team, change role, team and profile, deactivate; teams created, renamed and given a manager. Everyone else gets
403, bad input names the field, and a refused request changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tandem.core.models import Event
from tandem.users.models import Role, Team, User
from tandem.users.services import api_token_create
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db
JSON = "application/json"


def _auth(user: User) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=user, name='t')[1]}"}


def _state() -> tuple[Any, ...]:
    return (
        list(User.objects.order_by("pk").values()),
        list(Team.objects.order_by("pk").values()),
        list(User.groups.through.objects.order_by("pk").values()),
        Event.objects.exclude(kind="api_token.created").count(),
    )


def test_an_admin_creates_a_user_with_a_role_and_a_team_who_can_then_sign_in():
    # given an admin and a team
    admin, team = UserFactory(role=Role.ADMIN, username="ada"), TeamFactory(name="East")
    client = Client()
    # when the admin creates a rep on the team with a password
    response = client.post(
        "/api/users",
        {
            "username": "rita",
            "role": "sales_rep",
            "email": "rita@example.com",
            "first_name": "Rita",
            "last_name": "Ray",
            "team_id": team.pk,
            "time_zone": "Europe/Berlin",
            "password": "correct-horse-battery-9",
        },
        content_type=JSON,
        **_auth(admin),
    )
    # then 201 with the user as stored, in the rep group, and events naming the admin
    assert response.status_code == 201
    got = response.json()
    rita = User.objects.get(username="rita")
    assert {k: v for k, v in got.items() if k not in ("date_joined",)} == {
        "id": rita.pk,
        "username": "rita",
        "email": "rita@example.com",
        "first_name": "Rita",
        "last_name": "Ray",
        "role": "sales_rep",
        "team_id": team.pk,
        "team": "East",
        "is_active": True,
        "is_away": False,
        "capacity": 100,
        "time_zone": "Europe/Berlin",
        "has_password": True,
        "must_change_password": False,
        "last_login": None,
    }
    assert list(rita.groups.values_list("name", flat=True)) == ["Sales rep"]
    created = Event.objects.get(kind="user.created", subject_id=str(rita.pk))
    assert (created.actor_id, created.data) == (admin.pk, {"role": "sales_rep", "team": team.pk})
    # and rita signs in with her password
    assert client.login(username="rita", password="correct-horse-battery-9") is True


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"username": "has space", "role": "viewer"}, 422, "username"),
        ({"username": "taken", "role": "viewer"}, 409, "username"),
        ({"username": "new", "role": "viewer", "password": "123"}, 422, "password"),
        ({"username": "new", "role": "viewer", "team_id": 999999}, 422, "team_id"),
        ({"username": "new", "role": "viewer", "email": "not-an-email"}, 422, "email"),
        ({"username": "new", "role": "viewer", "time_zone": "Mars/Olympus"}, 422, "time_zone"),
        ({"username": "new", "role": "emperor"}, 422, "role"),
    ],
)
def test_a_refused_user_names_the_field_and_creates_nothing(body, status, field):
    # given an admin and a user named "taken"
    admin = UserFactory(role=Role.ADMIN)
    UserFactory(username="taken")
    auth = _auth(admin)
    before = _state()
    # when
    response = Client().post("/api/users", body, content_type=JSON, **auth)
    # then the status names the field, and nothing changed
    assert response.status_code == status
    got = response.json()
    assert got.get("field") == field or [e["field"] for e in got.get("errors", [])] == [field]
    assert _state() == before


def test_only_admins_manage_users_and_teams_and_a_refusal_changes_nothing():
    # given a sales manager (the widest non-admin reach) and a rep on a team
    team = TeamFactory(name="East")
    rep = UserFactory(role=Role.SALES_REP, team=team)
    auth = _auth(UserFactory(role=Role.SALES_MANAGER))
    client = Client()
    before = _state()
    # when they try each users-and-teams operation
    answers = [
        client.get("/api/users", **auth).status_code,
        client.get(f"/api/users/{rep.pk}", **auth).status_code,
        client.post("/api/users", {"username": "x", "role": "admin"}, content_type=JSON, **auth).status_code,
        client.patch(f"/api/users/{rep.pk}", {"role": "admin"}, content_type=JSON, **auth).status_code,
        client.post("/api/teams", {"name": "West"}, content_type=JSON, **auth).status_code,
        client.get(f"/api/teams/{team.pk}", **auth).status_code,
        client.patch(f"/api/teams/{team.pk}", {"name": "Mine"}, content_type=JSON, **auth).status_code,
    ]
    # then every one is refused with 403 and nothing changed
    assert answers == [403] * 7
    assert _state() == before


def test_an_admin_changes_a_users_role_team_and_profile_with_one_event_of_old_and_new_values():
    # given a rep on team East, and team West
    admin = UserFactory(role=Role.ADMIN)
    east, west = TeamFactory(name="East"), TeamFactory(name="West")
    rep = UserFactory(role=Role.SALES_REP, team=east, first_name="Sam", time_zone="UTC")
    # when the admin makes them a manager on West, renames them and sends a reason
    response = Client().patch(
        f"/api/users/{rep.pk}",
        {
            "role": "sales_manager",
            "team_id": west.pk,
            "first_name": "Samira",
            "capacity": 50,
            "reason": "promoted",
        },
        content_type=JSON,
        **_auth(admin),
    )
    # then the user answers as changed, in the managers' group
    assert response.status_code == 200
    got = response.json()
    assert (got["role"], got["team_id"], got["team"], got["first_name"], got["capacity"]) == (
        "sales_manager",
        west.pk,
        "West",
        "Samira",
        50,
    )
    rep.refresh_from_db()
    assert list(rep.groups.values_list("name", flat=True)) == ["Sales manager"]
    # and the events say what changed, from what, by whom and why
    updated = Event.objects.get(kind="user.updated", subject_id=str(rep.pk))
    assert (updated.actor_id, updated.reason, updated.data) == (
        admin.pk,
        "promoted",
        {
            "old": {"team": east.pk, "first_name": "Sam", "capacity": 100},
            "new": {"team": west.pk, "first_name": "Samira", "capacity": 50},
        },
    )
    role = Event.objects.get(kind="user.role_changed", subject_id=str(rep.pk), actor_id=admin.pk)
    assert role.data == {"from": "sales_rep", "to": "sales_manager"}


def test_team_id_null_takes_a_user_off_their_team_and_an_unchanged_patch_writes_no_event():
    # given a rep on a team
    admin = UserFactory(role=Role.ADMIN)
    rep = UserFactory(role=Role.SALES_REP, team=TeamFactory(name="East"))
    client, auth = Client(), _auth(admin)
    # when the admin sends the same role, then team_id null
    same = client.patch(f"/api/users/{rep.pk}", {"role": "sales_rep"}, content_type=JSON, **auth)
    events_after_same = Event.objects.filter(subject_id=str(rep.pk), kind__startswith="user.").count()
    off = client.patch(f"/api/users/{rep.pk}", {"team_id": None}, content_type=JSON, **auth)
    # then the first changed nothing and the second took them off the team
    assert (same.status_code, events_after_same) == (200, 0)
    assert (off.status_code, off.json()["team_id"], off.json()["team"]) == (200, None, None)


def test_a_deactivated_user_can_no_longer_use_their_token_until_reactivated():
    # given a rep with a token
    admin, rep = UserFactory(role=Role.ADMIN), UserFactory(role=Role.SALES_REP)
    client, admin_auth, rep_auth = Client(), _auth(admin), _auth(rep)
    assert client.get("/api/tasks", **rep_auth).status_code == 200
    # when an admin deactivates them
    off = client.patch(
        f"/api/users/{rep.pk}", {"is_active": False, "reason": "left"}, content_type=JSON, **admin_auth
    )
    # then the token is refused, and the deactivation is an event
    assert (off.status_code, off.json()["is_active"]) == (200, False)
    assert client.get("/api/tasks", **rep_auth).status_code == 401
    assert Event.objects.get(kind="user.deactivated", subject_id=str(rep.pk)).reason == "left"
    # when reactivated, then the token works again
    on = client.patch(f"/api/users/{rep.pk}", {"is_active": True}, content_type=JSON, **admin_auth)
    assert on.status_code == 200 and client.get("/api/tasks", **rep_auth).status_code == 200
    assert Event.objects.filter(kind="user.reactivated", subject_id=str(rep.pk)).count() == 1


def test_an_admin_may_not_deactivate_or_demote_themselves_or_the_last_admin():
    # given the only active admin, and a second admin's request
    admin = UserFactory(role=Role.ADMIN)
    client, auth = Client(), _auth(admin)
    before = _state()
    # when they try to deactivate or demote themselves
    deactivate = client.patch(f"/api/users/{admin.pk}", {"is_active": False}, content_type=JSON, **auth)
    demote = client.patch(f"/api/users/{admin.pk}", {"role": "viewer"}, content_type=JSON, **auth)
    # then 409 naming the field, and nothing changed
    assert (deactivate.status_code, deactivate.json()["field"]) == (409, "is_active")
    assert (demote.status_code, demote.json()["field"]) == (409, "role")
    assert _state() == before
    # and a superuser who is no admin by role may not demote the last admin either
    boss = UserFactory(role=Role.VIEWER, is_superuser=True)
    last = client.patch(f"/api/users/{admin.pk}", {"role": "viewer"}, content_type=JSON, **_auth(boss))
    assert (last.status_code, last.json()["field"]) == (409, "role")
    assert User.objects.get(pk=admin.pk).role == Role.ADMIN


def test_the_user_list_filters_as_named_and_pages_by_username_in_constant_queries(django_assert_num_queries):
    # given an admin and users on two teams
    east, west = TeamFactory(name="East"), TeamFactory(name="West")
    admin = UserFactory(role=Role.ADMIN, username="admin")
    for name, team in (("bea", east), ("cal", east), ("dan", west), ("eve", None), ("fay", east)):
        UserFactory(username=name, team=team, role=Role.SALES_REP)
    User.objects.filter(username="fay").update(is_active=False)
    User.objects.filter(username="cal").update(is_away=True)
    client, auth = Client(), _auth(admin)

    def names(query: str) -> list[str]:
        return [u["username"] for u in client.get(f"/api/users?{query}", **auth).json()["items"]]

    # then each filter narrows as its name says
    assert names(f"team={east.pk}") == ["bea", "cal", "fay"]
    assert names(f"team={east.pk}&is_active=true") == ["bea", "cal"]
    assert names("team=none") == ["admin", "eve"]
    assert names("role=admin") == ["admin"]
    assert names("is_away=true") == ["cal"]
    assert names("q=DA") == ["dan"]
    # and pages follow the username order both ways
    first = client.get("/api/users?limit=2", **auth).json()
    second = client.get(f"/api/users?limit=2&cursor={first['next_cursor']}", **auth).json()
    back = client.get(f"/api/users?limit=2&cursor={second['prev_cursor']}", **auth).json()
    assert [u["username"] for u in first["items"]] == ["admin", "bea"]
    assert [u["username"] for u in second["items"]] == ["cal", "dan"]
    assert [u["username"] for u in back["items"]] == ["admin", "bea"] and back["prev_cursor"] is None
    # and a page costs the same whatever its size: token, its use, the admin's page (users with their team)
    for limit in (2, 6):
        with django_assert_num_queries(3):
            client.get(f"/api/users?limit={limit}", **auth)


@pytest.mark.parametrize(
    ("query", "field"),
    [("role=emperor", "role"), ("team=east", "team"), ("cursor=zzz", "cursor"), ("limit=0", "limit")],
)
def test_a_bad_user_list_filter_is_a_422_naming_it(query, field):
    auth = _auth(UserFactory(role=Role.ADMIN))
    got = Client().get(f"/api/users?{query}", **auth)
    assert got.status_code == 422
    assert got.json().get("field") == field or [e["field"] for e in got.json()["errors"]] == [field]


def test_an_admin_creates_renames_and_gives_a_team_a_manager():
    # given an admin and a sales manager
    admin = UserFactory(role=Role.ADMIN)
    boss = UserFactory(role=Role.SALES_MANAGER, username="boss")
    client, auth = Client(), _auth(admin)
    # when they create a team with the manager, rename it and take the manager off
    created = client.post(
        "/api/teams",
        {"name": " North  Team ", "kind": "sales", "time_zone": "Europe/London", "manager_id": boss.pk},
        content_type=JSON,
        **auth,
    )
    team_id = created.json()["id"]
    UserFactory(username="ned", team_id=team_id)
    renamed = client.patch(
        f"/api/teams/{team_id}", {"name": "Nord", "reason": "rebrand"}, content_type=JSON, **auth
    )
    unmanaged = client.patch(f"/api/teams/{team_id}", {"manager_id": None}, content_type=JSON, **auth)
    # then each answers the team as it now is
    assert created.status_code == 201
    assert created.json() == {
        "id": team_id,
        "name": "North Team",
        "kind": "sales",
        "time_zone": "Europe/London",
        "manager_id": boss.pk,
        "manager": "boss",
        "rep_access": "own",
        "members": [],
    }
    ned = User.objects.get(username="ned")
    assert (renamed.status_code, renamed.json()["name"], renamed.json()["members"]) == (200, "Nord", [ned.pk])
    assert (unmanaged.json()["manager_id"], unmanaged.json()["manager"]) == (None, None)
    # and the events keep old and new values
    kinds = list(
        Event.objects.filter(subject_id=str(team_id), kind__startswith="team.")
        .order_by("pk")
        .values_list("kind", "reason", "data")
    )
    assert kinds == [
        (
            "team.created",
            "",
            {"name": "North Team", "kind": "sales", "time_zone": "Europe/London", "manager": boss.pk},
        ),
        ("team.updated", "rebrand", {"old": {"name": "North Team"}, "new": {"name": "Nord"}}),
        ("team.updated", "", {"old": {"manager": boss.pk}, "new": {"manager": None}}),
    ]
    # and the team list carries its kind, zone and manager
    listed = client.get("/api/teams", **auth).json()
    assert listed == [
        {
            "id": team_id,
            "name": "Nord",
            "kind": "sales",
            "time_zone": "Europe/London",
            "manager_id": None,
            "rep_access": "own",
        }
    ]


@pytest.mark.parametrize(
    ("method", "body", "status", "field"),
    [
        ("post", {"name": "East"}, 409, "name"),
        ("post", {"name": "New", "time_zone": "Nowhere/Else"}, 422, "time_zone"),
        ("post", {"name": "New", "kind": "finance"}, 422, "kind"),
        ("post", {"name": "New", "manager_id": 999999}, 422, "manager_id"),
        ("patch", {"name": "West"}, 409, "name"),
        ("patch", {"name": "   "}, 422, "name"),
        ("patch", {"manager_id": 999999}, 422, "manager_id"),
    ],
)
def test_a_refused_team_change_names_the_field_and_changes_nothing(method, body, status, field):
    # given teams East and West
    east = TeamFactory(name="East")
    TeamFactory(name="West")
    auth = _auth(UserFactory(role=Role.ADMIN))
    before = _state()
    # when
    url = "/api/teams" if method == "post" else f"/api/teams/{east.pk}"
    response = getattr(Client(), method)(url, body, content_type=JSON, **auth)
    # then
    assert response.status_code == status
    got = response.json()
    assert got.get("field") == field or [e["field"] for e in got.get("errors", [])] == [field]
    assert _state() == before


def test_a_deactivated_user_cannot_become_a_teams_manager():
    # given a deactivated user
    team = TeamFactory(name="East")
    gone = UserFactory(role=Role.SALES_MANAGER, is_active=False)
    auth = _auth(UserFactory(role=Role.ADMIN))
    # when an admin names them manager
    response = Client().patch(f"/api/teams/{team.pk}", {"manager_id": gone.pk}, content_type=JSON, **auth)
    # then 422 naming manager_id, and the team keeps no manager
    assert (response.status_code, response.json()["field"]) == (422, "manager_id")
    assert Team.objects.get(pk=team.pk).manager_id is None


def test_a_retried_user_create_with_the_same_idempotency_key_makes_one_user():
    # given an admin's create sent twice with one key
    auth = _auth(UserFactory(role=Role.ADMIN))
    client = Client()
    body = {"username": "once", "role": "viewer"}
    # when
    first = client.post("/api/users", body, content_type=JSON, HTTP_IDEMPOTENCY_KEY="k-1", **auth)
    again = client.post("/api/users", body, content_type=JSON, HTTP_IDEMPOTENCY_KEY="k-1", **auth)
    # then the second is the first answer replayed, and there is one user
    assert (first.status_code, again.status_code, again.headers.get("Idempotent-Replayed")) == (
        201,
        201,
        "true",
    )
    assert again.json() == first.json()
    assert User.objects.filter(username="once").count() == 1
