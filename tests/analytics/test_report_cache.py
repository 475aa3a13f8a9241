"""Every report goes through the one report cache (tandem.core.reportcache): the second request is served with
the data version query only, a committed change computes it again, and a cache that is down never fails a page.

Transactional: the data commit for real, as a report cached beside them would see them (a test wrapped in one
transaction reads around the cache once it wrote report data, see core/test_report_cache.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tandem.analytics.dashboard.selectors import kpi_data_cached, weekly_report_cached
from tandem.analytics.economics.selectors import economics_report_cached
from tandem.analytics.reports.selectors import report_cached
from tandem.analytics.statistics.selectors import segment_table_cached, spc_chart_cached, spc_page_get
from tandem.campaigns.services import campaign_create, touchpoint_record
from tandem.crm.services import deal_close, deal_create, person_change_stage, person_create
from tandem.lifecycle.selectors import sla_scorecard_cached
from tandem.users.models import Role
from tests.redis_helpers import free_port
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)

NOW = timezone.now()
DAY = dt.timedelta(days=1)


def _world() -> Any:
    """Three leads from two campaigns over the last weeks: one MQL, one won customer."""
    boss = UserFactory(role=Role.ADMIN)
    webinar = campaign_create(name="Webinar", channel="webinar", by_user=boss)
    search = campaign_create(name="Search", channel="paid_search", by_user=boss)
    people = []
    for i, campaign in enumerate((webinar, search, webinar)):
        person = person_create(email=f"lead{i}@acme.example", stage="lead", original_channel=campaign.channel)
        touchpoint_record(
            person=person,
            kind="page_view",
            channel=campaign.channel,
            campaign=campaign,
            occurred_at=NOW - (20 - i) * DAY,
        )
        people.append(person)
    person_change_stage(person=people[0], to_stage="mql", at=NOW - 10 * DAY, reason="scored")
    deal = deal_create(amount=Decimal("900"), person=people[1], by_user=boss)
    deal_close(deal=deal, won=True, by_user=boss)
    return boss


def _plain(value: Any) -> str:
    """A report as text: dicts, dataclasses and numpy arrays compared by value."""

    def default(o: Any) -> Any:
        if hasattr(o, "tolist"):
            return o.tolist()
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
        return str(o)

    return json.dumps(value, default=default, sort_keys=True)


def _week() -> tuple[dt.datetime, dt.datetime]:
    return NOW - 30 * DAY, NOW + DAY


REPORTS: dict[str, Callable[[Any], Any]] = {
    "funnel": lambda _: report_cached("funnel", by="channel", period="month", date_from=None, date_to=None),
    "attribution": lambda _: report_cached(
        "attribution", model="linear", by="channel", half_life=None, bootstrap=0, date_from=None, date_to=None
    ),
    "economics": lambda _: economics_report_cached(by="channel", model="linear", bootstrap=0),
    "dashboard": lambda _: kpi_data_cached(as_of=timezone.localdate()),
    "weekly": lambda boss: weekly_report_cached(user=boss),
    "SLA scorecard": lambda _: sla_scorecard_cached(start=_week()[0], end=_week()[1]),
    "segments": lambda _: segment_table_cached(by=["channel"], metric="won"),
    "control chart": lambda _: spc_chart_cached(metric="volume", by="channel", period="week"),
    "control chart page": lambda _: spc_page_get(
        metric="mql_rate", by="all", period="week", baseline=None, limit=8
    ),
}


@pytest.mark.parametrize("name", list(REPORTS))
def test_the_second_request_is_served_from_the_cache_with_the_version_query_only(
    name: str, django_assert_num_queries: Any
) -> None:
    # given the report computed once
    boss = _world()
    first = REPORTS[name](boss)
    # when it is asked again with nothing changed
    with django_assert_num_queries(1):
        second = REPORTS[name](boss)
    # then the cached copy equals it
    assert _plain(second) == _plain(first)


def test_a_committed_change_shows_in_the_next_report() -> None:
    # given the funnel cached with three leads
    _world()
    before = report_cached("funnel", by="none", period="month", date_from=None, date_to=None)
    # when a fourth lead arrives
    person_create(email="late@acme.example", stage="lead")
    after = report_cached("funnel", by="none", period="month", date_from=None, date_to=None)
    # then
    assert (before["total"]["steps"][0]["n"], after["total"]["steps"][0]["n"]) == (3, 4)


def test_the_weekly_report_is_kept_per_reach(django_assert_num_queries: Any) -> None:
    # given the weekly report cached for an admin (who sees every deal)
    boss = _world()
    rep = UserFactory(role=Role.SALES_REP)
    weekly_report_cached(user=boss)
    # when a sales rep, who sees only their own deals, asks twice
    with CaptureQueriesContext(connection) as first:
        mine = weekly_report_cached(user=rep)
    with django_assert_num_queries(1):
        again = weekly_report_cached(user=rep)
    # then the first was computed for them (not the admin's copy: more than the version query), the second was
    # their copy (their reach is kept on the user object, so only the version is asked)
    assert len(first) > 1
    assert _plain(again) == _plain(mine)


def test_pages_answer_when_the_cache_is_down(client: Any, settings: Any) -> None:
    # given the cache on a Redis port where nothing listens
    boss = _world()
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 2.0},
        }
    }
    client.force_login(boss)
    # when / then: every report page is computed and shown
    for url in (
        "/reports/funnel/", "/reports/attribution/", "/reports/economics/", "/reports/dashboard/", "/reports/weekly/",
        "/api/reports/funnel", "/statistics/", "/statistics/segments/", "/sla/",
    ):  # fmt: skip
        assert client.get(url).status_code == 200, url
