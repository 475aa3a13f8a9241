"""Record-level access in reports: numbers stay the company's whoever reads them; the lists of records behind a
number (the weekly report's top wins) hold only what the reader may see."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.cache import cache

from tandem.crm.models import Deal, PipelineStage
from tests.users.access_world import World, world  # noqa: F401

WEEK = "2026-11-09"  # a Monday; the report's week runs to Sunday 2026-11-15


@pytest.fixture(autouse=True)
def _empty_data_cache():  # type: ignore[no-untyped-def]
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def wins(world: World) -> None:  # noqa: F811
    """Every rep's deal won in the week: A1's for 3,000, A2's for 2,000, B1's for 1,000."""
    won = PipelineStage.objects.filter(pipeline=world.a1.deal.pipeline, kind="won").order_by("position").first()
    for i, rep in enumerate(world.reps):
        Deal.objects.filter(pk=world.of(rep).deal.pk).update(
            stage="won", pipeline_stage=won, amount=Decimal(3000 - 1000 * i),
            closed_at=dt.datetime(2026, 11, 10 + i, 12, tzinfo=dt.UTC),
        )


def _report(client, user) -> dict:  # type: ignore[no-untyped-def]
    client.force_login(user)
    return client.get("/api/reports/weekly", {"week": WEEK}).json()


def test_the_weekly_top_wins_are_the_deals_the_reader_may_see(client, world: World, wins: None) -> None:  # noqa: F811
    # given three deals won in the week, one per rep
    # when rep B1, manager A and marketing read the weekly report
    as_rep, as_manager, as_marketing = (_report(client, u) for u in (world.rep_b1, world.manager_a, world.marketing))
    # then each lists the wins they may see, biggest first
    assert [w["deal"] for w in as_rep["top_wins"]] == ["Buffalo deal"]
    assert [w["deal"] for w in as_manager["top_wins"]] == ["Aardvark deal", "Albatross deal"]
    assert [w["deal"] for w in as_marketing["top_wins"]] == ["Aardvark deal", "Albatross deal", "Buffalo deal"]
    # and the numbers are the company's for all of them
    for report in (as_rep, as_manager):
        assert report["converted"] == as_marketing["converted"]
    assert as_rep["converted"]["wins"]["this_week"] == 3.0 and as_rep["converted"]["revenue"]["this_week"] == 6000.0


def test_the_weekly_page_lists_the_readers_wins_only(client, world: World, wins: None) -> None:  # noqa: F811
    # given three deals won in the week
    client.force_login(world.rep_b1)
    # when rep B1 opens the weekly page
    page = client.get("/reports/weekly/", {"week": WEEK}).content.decode()
    # then their win is listed, team A's are not
    assert "Buffalo deal" in page and "Aardvark deal" not in page and "Albatross deal" not in page
