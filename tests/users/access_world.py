"""The two-team world the record-level access tests share (tandem.users.access).

Import the fixture where it is needed (`from tests.users.access_world import world  # noqa: F401`) or with
`pytest_plugins`. `world` builds, on a fresh database:

- team A (reps A1 and A2, managed by manager A, who is also its member) and team B (rep B1, managed by manager B);
  both teams keep the default `rep_access` (own records only) — a test that needs another setting changes it with
  `world.set_rep_access(world.team_a, RepAccess.TEAM_VIEW)`;
- one marketing user, one viewer and one admin, on no team;
- for each rep, records they own, reachable as `world.a1`, `world.a2`, `world.b1` (or `world.of(world.rep_a1)`):
  an Account they own, a Person they own on that account, a Deal they own on that person, an Activity they logged
  with the person, a Task of theirs about the person, a Question they heard from the person, a LeadRating they gave.

Names are distinct words per rep (Aardvark for A1, Albatross for A2, Buffalo for B1) so a search or a list can be
checked for what it must not show.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from tandem.crm.models import Account, Activity, Deal, Person, Task
from tandem.feedback.models import LeadRating, Question
from tandem.users.models import RepAccess, Role, Team, User
from tests.crm.factories import AccountFactory, DealFactory, PersonFactory
from tests.feedback.factories import LeadRatingFactory, QuestionFactory
from tests.users.factories import TeamFactory, UserFactory

WHEN = dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC)


@dataclass
class Owned:
    """The records one rep owns."""

    word: str
    account: Account
    person: Person
    deal: Deal
    activity: Activity
    task: Task
    question: Question
    rating: LeadRating


@dataclass
class World:
    team_a: Team
    team_b: Team
    rep_a1: User
    rep_a2: User
    rep_b1: User
    manager_a: User
    manager_b: User
    marketing: User
    viewer: User
    admin: User
    a1: Owned
    a2: Owned
    b1: Owned
    _by_user: dict[int, Owned] = field(default_factory=dict, repr=False)

    def of(self, user: User) -> Owned:
        """The records `user` (a rep) owns."""
        return self._by_user[user.pk]

    @property
    def reps(self) -> list[User]:
        return [self.rep_a1, self.rep_a2, self.rep_b1]

    @property
    def users(self) -> list[User]:
        return [
            self.rep_a1, self.rep_a2, self.rep_b1, self.manager_a, self.manager_b,
            self.marketing, self.viewer, self.admin,
        ]

    def set_rep_access(self, team: Team, rep_access: str) -> None:
        """Change a team's `rep_access` and forget every cached reach (access_reach caches on the user object)."""
        team.rep_access = rep_access
        team.save(update_fields=["rep_access"])
        for user in self.users:
            user.__dict__.pop("_tandem_reach", None)
            if user.team_id == team.pk:
                user.team = team


def _user(username: str, role: str, team: Team | None) -> User:
    return UserFactory(
        username=username, role=role, team=team, first_name=username.split("_")[0].title(), last_name=username
    )


def _owned(rep: User, word: str) -> Owned:
    account = AccountFactory(name=f"{word} Corp", domain=f"{word.lower()}.example", owner=rep)
    person = PersonFactory(
        email=f"quincy@{word.lower()}.example", first_name="Quincy", last_name=word, account=account, owner=rep
    )
    deal = DealFactory(person=person, account=account, owner=rep, name=f"{word} deal", amount=Decimal("12000.00"))
    activity = Activity.objects.create(
        person=person, deal=deal, account=account, user=rep, kind_id="call", outcome="connected",
        subject=f"Call with {word}", occurred_at=WHEN,
    )
    task = Task.objects.create(
        title=f"Call {word} back", due_at=WHEN + dt.timedelta(days=1), owner=rep, created_by=rep, person=person,
        deal=deal, account=account,
    )
    question = QuestionFactory(person=person, heard_by=rep, text=f"Does {word} integrate with our ERP?", asked_at=WHEN)
    rating = LeadRatingFactory(person=person, rated_by=rep, rating=4, rated_at=WHEN)
    return Owned(
        word=word, account=account, person=person, deal=deal, activity=activity, task=task, question=question,
        rating=rating,
    )


def world_build() -> World:
    """Build the two-team world (see the module docstring)."""
    team_a = TeamFactory(name="Team A")
    team_b = TeamFactory(name="Team B")
    manager_a = _user("manager_a", Role.SALES_MANAGER, team_a)
    manager_b = _user("manager_b", Role.SALES_MANAGER, team_b)
    team_a.manager = manager_a
    team_a.save(update_fields=["manager"])
    team_b.manager = manager_b
    team_b.save(update_fields=["manager"])
    rep_a1 = _user("rep_a1", Role.SALES_REP, team_a)
    rep_a2 = _user("rep_a2", Role.SALES_REP, team_a)
    rep_b1 = _user("rep_b1", Role.SALES_REP, team_b)
    marketing = _user("marketing", Role.MARKETING, None)
    viewer = _user("viewer", Role.VIEWER, None)
    admin = _user("admin", Role.ADMIN, None)
    a1, a2, b1 = _owned(rep_a1, "Aardvark"), _owned(rep_a2, "Albatross"), _owned(rep_b1, "Buffalo")
    built = World(
        team_a=team_a, team_b=team_b, rep_a1=rep_a1, rep_a2=rep_a2, rep_b1=rep_b1, manager_a=manager_a,
        manager_b=manager_b, marketing=marketing, viewer=viewer, admin=admin, a1=a1, a2=a2, b1=b1,
    )
    built._by_user = {rep_a1.pk: a1, rep_a2.pk: a2, rep_b1.pk: b1}
    return built


@pytest.fixture
def world(db: Any, settings: Any) -> World:
    """Two sales teams, their managers, marketing, a viewer, an admin, and each rep's own records."""
    # PBKDF2 for ten users costs seconds per test; the world's passwords are only ever checked in this test.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return world_build()


__all__ = ["Owned", "RepAccess", "World", "world", "world_build"]
