from __future__ import annotations

import pytest

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tandem.users.models import Team
from tandem.users.services import team_create, user_create
from tests.users.factories import UserFactory


def test_team_create_records_an_event_and_refuses_duplicates_and_unknown_zones(db):
    # given
    manager = UserFactory(role="sales_manager")
    # when
    team = team_create(name=" East  (Cara Losch) ", time_zone="America/New_York", manager=manager)
    with pytest.raises(NotAllowed) as duplicate:
        team_create(name="East (Cara Losch)")
    with pytest.raises(ValidationFailed) as zone:
        team_create(name="West", time_zone="Mars/Olympus")
    # then
    assert (team.name, team.kind, team.time_zone, team.manager_id) == (
        "East (Cara Losch)",
        "sales",
        "America/New_York",
        manager.pk,
    )
    assert Event.objects.get(kind="team.created").data == {
        "name": "East (Cara Losch)",
        "kind": "sales",
        "time_zone": "America/New_York",
        "manager": manager.pk,
    }
    assert (duplicate.value.field, zone.value.field) == ("name", "time_zone")
    assert list(Team.objects.values_list("name", flat=True)) == ["East (Cara Losch)"]


def test_a_user_created_without_a_password_cannot_sign_in(db):
    # when
    user = user_create(username="moses.frase", password=None, role="sales_rep")
    # then
    assert not user.has_usable_password()
