"""Reports that agree: every week of a small demo company, the weekly report's leads, wins and revenue equal the
numbers of the reports that own them for the same [Monday 00:00, next Monday 00:00) (issue 18, item 3)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.db.models import Count, Sum
from django.utils import timezone

from tandem.analytics.dashboard.selectors import kpi_data_load, weekly_report_get
from tandem.analytics.reports.selectors import funnel_report_get
from tandem.core.periods import period_bounds, period_next, period_start
from tandem.crm.models import Deal, DealStage
from tandem.demo.company import generate_company
from tandem.demo.services import demo_load

pytestmark = pytest.mark.django_db
END = dt.date(2026, 6, 30)


@pytest.fixture(autouse=True)
def _fast_passwords_and_empty_cache(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    yield
    cache.clear()


def _owned(monday: dt.date) -> dict[str, float]:
    """Leads, wins and revenue of the week as the funnel and the deals count them."""
    start, end = period_bounds(monday, "week", tz=timezone.get_current_timezone())
    funnel = funnel_report_get(date_from=monday, date_to=period_next(monday, "week") - dt.timedelta(days=1))
    won = Deal.objects.filter(stage=DealStage.WON, closed_at__gte=start, closed_at__lt=end).aggregate(n=Count("id"), amount=Sum("amount"))
    return {"leads": float(funnel["total"]["counts"]["lead"]), "wins": float(won["n"]), "revenue": float(won["amount"] or 0)}


def test_every_week_of_the_demo_agrees_with_the_reports_that_own_its_numbers():
    # given a small demo company (two years up to END) and its daily data loaded once
    demo_load(company=generate_company(people=300, seed=7, end=END))
    data = kpi_data_load()
    first = period_start(END - dt.timedelta(days=730), "week")
    mondays = []
    monday = first
    while period_next(monday, "week") <= END:
        mondays.append(monday)
        monday = period_next(monday, "week")
    # when each complete week's report is made
    printed, owned = {}, {}
    for monday in mondays:
        report = weekly_report_get(week=monday, today=END, now=timezone.now(), data=data)
        printed[monday] = {
            "leads": report["came_in"]["leads"]["this_week"],
            "wins": report["converted"]["wins"]["this_week"],
            "revenue": report["converted"]["revenue"]["this_week"],
        }
        owned[monday] = _owned(monday)
    # then every number equals the owning report's, week by week (and the demo has weeks with each of them)
    assert {m: v for m, v in printed.items() if v != owned[m]} == {}
    assert len(mondays) == 105
    assert all(sum(w[k] for w in printed.values()) > 0 for k in ("leads", "wins", "revenue"))
