"""Record-level access to scores: a person's score follows the person's access; the queue is the user's own."""

from __future__ import annotations

import datetime as dt

from tandem.crm.models import Person
from tandem.scoring.models import PersonScore
from tandem.scoring.selectors import export_rows
from tandem.users.models import RepAccess
from tests.users.access_world import World, world  # noqa: F401


def _score_everyone(w: World) -> None:
    for i, rep in enumerate(w.reps):
        PersonScore.objects.create(
            person=w.of(rep).person, probability=0.1 * (i + 1), engagement=5.0, fit_grade="B",
            scored_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        )


def _statuses(client, w: World) -> list[int]:  # type: ignore[no-untyped-def]
    return [client.get(f"/api/people/{w.of(rep).person.pk}/score").status_code for rep in w.reps]


def test_each_role_reads_the_scores_of_the_people_it_may_see(client, world: World) -> None:  # noqa: F811
    # given every rep's person scored
    _score_everyone(world)
    seen = {}
    # when each user reads the three scores (A1's, A2's, B1's)
    for name in ("rep_a1", "rep_b1", "manager_a", "manager_b", "viewer", "marketing"):
        client.force_login(getattr(world, name))
        seen[name] = _statuses(client, world)
    # then a rep reads their own, a manager their team's, the company-wide roles all; the rest is out of sight
    assert seen == {
        "rep_a1": [200, 404, 404],
        "rep_b1": [404, 404, 200],
        "manager_a": [200, 200, 404],
        "manager_b": [404, 404, 200],
        "viewer": [200, 200, 200],
        "marketing": [200, 200, 200],
    }


def test_a_team_that_shares_its_records_shares_its_scores(client, world: World) -> None:  # noqa: F811
    # given every rep's person scored, and team A's reps may see the team's records
    _score_everyone(world)
    world.set_rep_access(world.team_a, RepAccess.TEAM_VIEW)
    client.force_login(world.rep_a2)
    # when A2 reads the three scores
    # then they read team A's
    assert _statuses(client, world) == [200, 200, 404]


def test_the_score_export_of_a_user_holds_the_people_they_may_see(world: World) -> None:  # noqa: F811
    # given every rep's person scored and consenting to e-mail (the export is an outreach list)
    _score_everyone(world)
    Person.objects.filter(pk__in=[world.of(rep).person.pk for rep in world.reps]).update(consent_email=True)
    # when the export is read as the operator (no user), as manager A and as rep B1
    def emails(user):  # type: ignore[no-untyped-def]
        return sorted(row[0] for row in export_rows(user=user))

    # then the operator exports everyone, the manager team A's people, the rep their own
    assert emails(None) == ["quincy@aardvark.example", "quincy@albatross.example", "quincy@buffalo.example"]
    assert emails(world.manager_a) == ["quincy@aardvark.example", "quincy@albatross.example"]
    assert emails(world.rep_b1) == ["quincy@buffalo.example"]
