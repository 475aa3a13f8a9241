"""Search finds only what the user may see (tandem.users.access), decided inside each ranked branch: records of
others never crowd a user's own matches out of the few hits asked for."""

from __future__ import annotations

import pytest
from django.db import connection

from tandem.search.selectors import search, search_plan
from tandem.users.models import RepAccess
from tests.crm.factories import PersonFactory
from tests.users.access_world import World, world  # noqa: F401


def _titles(user, q: str, kind: str | None = None, limit: int = 10) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    results = search(q=q, user=user, kinds=kind, limit=limit)
    return {g.kind: [h.title for h in g.hits] for g in results.groups}


@pytest.mark.parametrize(
    ("who", "people"),
    [
        ("rep_b1", ["Quincy Buffalo"]),
        ("rep_a1", ["Quincy Aardvark"]),
        ("manager_a", ["Quincy Aardvark", "Quincy Albatross"]),
        ("marketing", ["Quincy Aardvark", "Quincy Albatross", "Quincy Buffalo"]),
        ("viewer", ["Quincy Aardvark", "Quincy Albatross", "Quincy Buffalo"]),
    ],
)
def test_each_role_finds_the_people_it_may_see(world: World, who: str, people: list[str]) -> None:  # noqa: F811
    # given the two-team world
    # when the user searches for the first name every rep's person shares (prefix) and part of it (substring)
    prefix, substring = _titles(getattr(world, who), "quincy"), _titles(getattr(world, who), "uincy")
    # then they find the people they may see, no others
    assert prefix["person"] == people and substring["person"] == people


def test_a_rep_of_another_team_finds_nothing_of_team_a(world: World) -> None:  # noqa: F811
    # given rep B1
    # when they search for team A's words: a person's last name, a company, a domain, a deal
    found = [_titles(world.rep_b1, q) for q in ("aardvark", "albatross", "aardvark.example", "aardvark deal")]
    # then every group is empty
    assert found == [{"person": [], "account": [], "deal": [], "campaign": []}] * 4
    # and their own records are found by the same kinds of query
    assert _titles(world.rep_b1, "buffalo") == {
        "person": ["Quincy Buffalo"],
        "account": ["Buffalo Corp"],
        "deal": ["Buffalo deal"],
        "campaign": [],
    }


def test_others_matches_do_not_crowd_out_the_users_own(world: World) -> None:  # noqa: F811
    # given eight of A1's people whose names sort before B1's person, at A1's company
    for i in range(8):
        PersonFactory(first_name="Quincy", last_name=f"Aa{i}", owner=world.rep_a1, account=world.a1.account)
    # when B1 asks for two hits by prefix, by substring and by company word
    prefix = search(q="quincy", user=world.rep_b1, kinds="person", limit=2)
    substring = search(q="uincy", user=world.rep_b1, kinds="person", limit=2)
    corp = search(q="corp", user=world.rep_b1, kinds=["person", "account"], limit=2)
    # then their own person is found and nothing more is announced
    for results in (prefix, substring):
        assert [(h.title, results.groups[0].more) for h in results.groups[0].hits] == [("Quincy Buffalo", False)]
    assert [[h.title for h in g.hits] for g in corp.groups] == [["Quincy Buffalo"], ["Buffalo Corp"]]


def test_a_team_that_shares_its_records_finds_them(world: World) -> None:  # noqa: F811
    # given team A's reps may see the team's records
    world.set_rep_access(world.team_a, RepAccess.TEAM_VIEW)
    # when A2 searches
    found = _titles(world.rep_a2, "quincy", kind="person")
    # then they find A1's person beside their own, not team B's
    assert found == {"person": ["Quincy Aardvark", "Quincy Albatross"]}


def test_the_api_and_the_page_answer_as_the_signed_in_user(client, world: World) -> None:  # noqa: F811
    # given rep B1 signed in
    client.force_login(world.rep_b1)
    # when they search by API and on the page
    api = client.get("/api/search", {"q": "quincy", "kind": "person"}).json()
    page = client.get("/search/", {"q": "quincy"}).content.decode()
    # then only their own person is listed
    assert [h["title"] for h in api["groups"][0]["hits"]] == ["Quincy Buffalo"]
    assert "Quincy Buffalo" in page and "Quincy Aardvark" not in page and "Quincy Albatross" not in page


@pytest.mark.parametrize("who", ["rep_b1", "manager_a"])
def test_a_restricted_search_still_reads_indexes_not_whole_tables(world: World, who: str) -> None:  # noqa: F811
    # given: the plans of the statements a rep's or a manager's search runs (PostgreSQL is told to avoid
    # sequential scans, so a Seq Scan left in a plan is one no index can serve)
    full_scans, plans = [], []
    for sql, params in search_plan(q="quincy", kinds=["person", "account", "deal"], user=getattr(world, who)):
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET LOCAL enable_seqscan = off")
                cursor.execute(f"EXPLAIN {sql}", params)
                plan = [row[0] for row in cursor.fetchall()]
                full_scans += [line for line in plan if "Seq Scan" in line]
            else:
                cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
                plan = [str(row[-1]) for row in cursor.fetchall()]
                full_scans += [line for line in plan if line.startswith("SCAN crm_") and "VIRTUAL" not in line]
        plans += plan
    # then
    assert len(plans) > 0
    assert full_scans == [], "\n".join(plans)
