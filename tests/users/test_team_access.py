"""An admin sets how far a team's reps reach (page, API, CLI); each change is an event; others are refused."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tandem.core.models import Event
from tandem.users.access import access_allows
from tandem.users.models import RepAccess, Team
from tests.users.access_world import World, world  # noqa: F401


def test_the_admin_page_sets_a_teams_access_and_the_rep_then_sees_the_team(client, world: World) -> None:  # noqa: F811
    # given team A on the default (own records only)
    assert not access_allows(world.a1.person, user=world.rep_a2)
    client.force_login(world.admin)
    # when the admin opens the page and saves "see the team's"
    page = client.get("/teams/access/")
    saved = client.post("/teams/access/", {"team": world.team_a.pk, "rep_access": "team_view"})
    # then the setting is stored with an event, and a fresh read of rep A2 sees A1's person but may not change it
    assert page.status_code == 200 and b"Team A" in page.content
    assert saved.status_code == 302
    assert Team.objects.get(pk=world.team_a.pk).rep_access == RepAccess.TEAM_VIEW
    event = Event.objects.get(kind="team.rep_access_changed")
    assert (event.actor_id, event.data) == (world.admin.pk, {"old": {"rep_access": "own"}, "new": {"rep_access": "team_view"}})
    rep = type(world.rep_a2).objects.get(pk=world.rep_a2.pk)
    assert access_allows(world.a1.person, user=rep) and not access_allows(world.a1.person, user=rep, write=True)


def test_the_api_sets_access_for_admins_and_refuses_a_manager_and_a_bad_value(client, world: World) -> None:  # noqa: F811
    # given a manager
    client.force_login(world.manager_a)
    # when they try, then 403 and nothing changed
    refused = client.patch(f"/api/teams/{world.team_a.pk}/access", {"rep_access": "team_change"}, content_type="application/json")
    assert refused.status_code == 403 and Team.objects.get(pk=world.team_a.pk).rep_access == "own"
    # when an admin sends an unknown value, then 422 naming it and nothing changed
    client.force_login(world.admin)
    bad = client.patch(f"/api/teams/{world.team_a.pk}/access", {"rep_access": "all"}, content_type="application/json")
    assert (bad.status_code, bad.json()["field"]) == (422, "rep_access")
    assert not Event.objects.filter(kind="team.rep_access_changed").exists()
    # when an admin sets it, then it is listed
    done = client.patch(f"/api/teams/{world.team_a.pk}/access", {"rep_access": "team_change"}, content_type="application/json")
    listed = client.get("/api/teams").json()
    assert done.status_code == 200 and done.json()["rep_access"] == "team_change"
    assert [(t["name"], t["rep_access"]) for t in listed] == [("Team A", "team_change"), ("Team B", "own")]


def test_the_command_sets_access_and_refuses_an_unknown_team(world: World, capsys) -> None:  # noqa: F811
    # when
    call_command("users", "team-access", "Team B", "team_view")
    # then
    assert Team.objects.get(pk=world.team_b.pk).rep_access == "team_view"
    assert "Team B: reps reach see the team's records, change their own" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no team named 'Nobody'"):
        call_command("users", "team-access", "Nobody", "own")
