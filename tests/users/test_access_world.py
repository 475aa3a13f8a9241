"""The shared two-team world builds as its docstring says, and the one rule reaches what it should in it."""

from __future__ import annotations

from tandem.crm.models import Person
from tandem.users.access import access_filter
from tandem.users.models import RepAccess
from tests.users.access_world import World, world  # noqa: F401


def test_each_rep_owns_one_of_each_record(world: World) -> None:  # noqa: F811
    # given the world
    # then each rep's records are theirs and about their own person
    for rep in world.reps:
        owned = world.of(rep)
        assert (owned.person.owner_id, owned.deal.owner_id, owned.account.owner_id) == (rep.pk, rep.pk, rep.pk)
        assert (owned.activity.user_id, owned.task.owner_id) == (rep.pk, rep.pk)
        assert (owned.question.heard_by_id, owned.rating.rated_by_id) == (rep.pk, rep.pk)
        assert {owned.deal.person_id, owned.question.person_id, owned.rating.person_id} == {owned.person.pk}


def test_people_each_role_reaches(world: World) -> None:  # noqa: F811
    # given the default setting (reps see their own only)
    def names(user) -> list[str]:  # type: ignore[no-untyped-def]
        qs = access_filter(Person.objects.filter(first_name="Quincy"), user=user)
        return sorted(qs.values_list("last_name", flat=True))

    # then
    everyone = ["Aardvark", "Albatross", "Buffalo"]
    assert names(world.rep_a1) == ["Aardvark"]
    assert names(world.rep_b1) == ["Buffalo"]
    assert names(world.manager_a) == ["Aardvark", "Albatross"]
    assert names(world.manager_b) == ["Buffalo"]
    assert (names(world.marketing), names(world.viewer), names(world.admin)) == (everyone, everyone, everyone)

    # when team A's reps may see the team's records
    world.set_rep_access(world.team_a, RepAccess.TEAM_VIEW)
    # then A1 sees A2's, B1 still only their own
    assert names(world.rep_a1) == ["Aardvark", "Albatross"]
    assert names(world.rep_b1) == ["Buffalo"]
