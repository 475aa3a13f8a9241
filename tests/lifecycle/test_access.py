"""Record-level access in the hand-off: a manager's queue is their reach; accepting or rejecting an MQL is a change
to the person, refused (404 out of sight, 403 when the user may only look) before anything is written."""

from __future__ import annotations

import pytest

from tandem.crm.models import Person, StageChange
from tandem.crm.services import person_change_stage
from tandem.users.models import RepAccess
from tests.crm.factories import PersonFactory
from tests.users.access_world import World, world  # noqa: F401

HX = {"HX-Request": "true"}


@pytest.fixture
def mqls(world: World) -> dict[str, Person]:  # noqa: F811
    """Every rep's person handed over as an MQL, and one MQL nobody owns yet."""
    out = {}
    for rep in world.reps:
        person = world.of(rep).person
        person_change_stage(person=person, to_stage="mql", rule="definition:mql", rule_version=1)
        out[world.of(rep).word] = person
    unowned = PersonFactory(first_name="Una", last_name="Unassigned")
    person_change_stage(person=unowned, to_stage="mql", rule="definition:mql", rule_version=1)
    out["unowned"] = unowned
    return out


def _names(client, query: str = "") -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(i["name"] for i in client.get(f"/api/inbox?age=all{query}").json()["items"])


def _stages(mqls: dict[str, Person]) -> list[str]:
    return [Person.objects.get(pk=p.pk).lifecycle_stage for p in mqls.values()]


def test_a_managers_queue_is_the_teams_mqls_and_the_unassigned_ones(client, world: World, mqls) -> None:  # noqa: F811
    # given manager A
    client.force_login(world.manager_a)
    # when they read their inbox, and only the unassigned part of it
    everything, unassigned = _names(client), _names(client, "&owner=none")
    # then they see team A's MQLs and the unassigned one, not team B's
    assert everything == ["Quincy Aardvark", "Quincy Albatross", "Una Unassigned"]
    assert unassigned == ["Una Unassigned"]


def test_a_reps_inbox_is_their_own(client, world: World, mqls) -> None:  # noqa: F811
    # given rep B1, in a team whose reps may see the team's records
    world.set_rep_access(world.team_b, RepAccess.TEAM_CHANGE)
    client.force_login(world.rep_b1)
    # when they read their inbox, and ask for the unassigned MQLs
    mine = _names(client)
    refused = client.get("/api/inbox?age=all&owner=none")
    # then they see their own MQL only, and the unassigned ones are not theirs to list
    assert mine == ["Quincy Buffalo"]
    assert (refused.status_code, refused.json()["field"]) == (422, "owner")


def test_another_teams_mql_cannot_be_answered(client, world: World, mqls) -> None:  # noqa: F811
    # given rep B1 and manager B, and A1's MQL
    lead = mqls["Aardvark"]
    answers = []
    for user in (world.rep_b1, world.manager_b):
        client.force_login(user)
        # when they accept or reject it by API and by page
        answers += [
            client.post(f"/api/inbox/{lead.pk}/accept").status_code,
            client.post(
                f"/api/inbox/{lead.pk}/reject", {"reason_code": "student"}, content_type="application/json"
            ).status_code,
            client.post(f"/inbox/{lead.pk}/accept/", headers=HX).status_code,
            client.post(f"/inbox/{lead.pk}/reject/", {"reason_code": "student"}).status_code,
        ]
    # then it is out of their sight (404) and nothing moved
    assert answers == [404] * 8
    assert _stages(mqls) == ["mql"] * 4
    assert not StageChange.objects.filter(rule__startswith="inbox:").exists()


def test_a_viewer_and_a_teammate_who_may_only_look_are_refused(client, world: World, mqls) -> None:  # noqa: F811
    # given team A's reps may see the team's records but change only their own
    world.set_rep_access(world.team_a, RepAccess.TEAM_VIEW)
    lead = mqls["Aardvark"]
    # when the viewer accepts A1's MQL, and A2 accepts it by API and from the inbox list
    client.force_login(world.viewer)
    viewer = client.post(f"/api/inbox/{lead.pk}/accept")
    client.force_login(world.rep_a2)
    teammate = client.post(f"/api/inbox/{lead.pk}/accept")
    row = client.post(f"/inbox/{lead.pk}/accept/", headers=HX)
    # then each is refused with 403 saying why, and nothing moved
    assert (viewer.status_code, teammate.status_code, row.status_code) == (403, 403, 403)
    assert "not change" in teammate.json()["detail"] and "not change" in row.content.decode()
    assert _stages(mqls) == ["mql"] * 4


def test_a_manager_answers_for_the_teams_mqls(client, world: World, mqls) -> None:  # noqa: F811
    # given manager A
    client.force_login(world.manager_a)
    # when they accept A2's MQL and reject the unassigned one
    accepted = client.post(f"/api/inbox/{mqls['Albatross'].pk}/accept")
    rejected = client.post(
        f"/api/inbox/{mqls['unowned'].pk}/reject", {"reason_code": "student"}, content_type="application/json"
    )
    # then both are answered
    assert (accepted.status_code, rejected.status_code) == (200, 200)
    assert _stages(mqls) == ["mql", "sal", "mql", "recycled"]
