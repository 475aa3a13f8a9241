"""Weekly alignment report: the week's numbers on a hand-made history, top wins, SLA, changes, page, CLI and API."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command

from tandem.analytics.dashboard.selectors import weekly_report_get, weekly_week
from tandem.campaigns.models import Touchpoint
from tandem.core.errors import ValidationFailed
from tandem.crm.models import Person, StageChange
from tandem.users.models import Role
from tests.campaigns.factories import CampaignFactory
from tests.crm.factories import DealFactory, PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
WEEK = dt.date(2026, 11, 9)  # Monday; the report's week runs to Sunday 2026-11-15


@pytest.fixture(autouse=True)
def _empty_data_cache():
    cache.clear()
    yield
    cache.clear()


def _at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


def _history() -> dict[str, Person]:
    """P1 (email): lead 11-10, MQL 11-12, SQL 11-13, won 5,000 on 11-14 (rep ray); touches: Nurture (email) 11-01,
    Webinar X (webinar) 11-08, Late 11-20 (after the win). P2 (webinar): lead 11-11. P3 (email): lead 11-02,
    MQL 11-03, lost 1,000 on 11-13. P4 (email): won 8,000 on 11-10, no touches, no lead stage."""
    ray = UserFactory(username="ray", role=Role.SALES_REP)
    p1, p2, p3 = (PersonFactory(original_channel=ch) for ch in ("email", "webinar", "email"))
    p4 = PersonFactory(original_channel="email", stage="subscriber")
    StageChange.objects.all().delete()
    for person, stage, day in (
        (p1, "lead", "2026-11-10"), (p1, "mql", "2026-11-12"), (p1, "sql", "2026-11-13"),
        (p2, "lead", "2026-11-11"), (p3, "lead", "2026-11-02"), (p3, "mql", "2026-11-03"),
    ):
        StageChange.objects.create(person=person, to_stage=stage, changed_at=_at(day))
    nurture = CampaignFactory(name="Nurture", channel="email", started_on=None, ended_on=None, actual_cost=Decimal("0"))
    webinar = CampaignFactory(name="Webinar X", channel="webinar", started_on=None, ended_on=None, actual_cost=Decimal("0"))
    late = CampaignFactory(name="Late", channel="email", started_on=None, ended_on=None, actual_cost=Decimal("0"))
    for campaign, day in ((nurture, "2026-11-01"), (webinar, "2026-11-08"), (late, "2026-11-20")):
        Touchpoint.objects.create(person=p1, campaign=campaign, channel=campaign.channel, occurred_at=_at(day))
    DealFactory(name="Acme expansion", person=p1, owner=ray, stage="won", amount=Decimal("5000"), created_at=_at("2026-11-12"), closed_at=_at("2026-11-14"))
    DealFactory(name="Lost one", person=p3, stage="lost", amount=Decimal("1000"), created_at=_at("2026-11-04"), closed_at=_at("2026-11-13"))
    DealFactory(name="Big one", person=p4, owner=ray, stage="won", amount=Decimal("8000"), created_at=_at("2026-10-01"), closed_at=_at("2026-11-10"))
    return {"p1": p1, "p2": p2, "p3": p3, "p4": p4}


def test_the_report_week_is_the_last_complete_week_by_default():
    # given / when / then
    assert weekly_week(today=dt.date(2026, 11, 18)) == WEEK
    assert weekly_week(week=dt.date(2026, 11, 15), today=dt.date(2026, 11, 18)) == WEEK
    with pytest.raises(ValidationFailed) as err:
        weekly_week(week=dt.date(2026, 11, 19), today=dt.date(2026, 11, 18))
    assert err.value.field == "week"


def test_weekly_report_counts_what_came_in_and_what_converted():
    # given
    people = _history()
    # when
    report = weekly_report_get(today=dt.date(2026, 11, 18))
    # then
    assert report["week"] == {"start": "2026-11-09", "end": "2026-11-15", "next": "2026-11-16"}
    leads = report["came_in"]["leads"]
    assert (leads["this_week"], leads["previous_week"], leads["previous_average"]) == (2.0, 1.0, 0.25)
    assert leads["change_pct"] == pytest.approx((2 - 0.25) / 0.25)
    assert (report["came_in"]["mqls"]["this_week"], report["came_in"]["mqls"]["previous_week"]) == (1.0, 1.0)
    assert report["came_in"]["by_channel"] == [
        {"channel": "email", "leads": 1.0, "leads_previous_average": 0.25, "mqls": 1.0, "mqls_previous_average": 0.25},
        {"channel": "webinar", "leads": 1.0, "leads_previous_average": 0.0, "mqls": 0.0, "mqls_previous_average": 0.0},
    ]
    converted = report["converted"]
    assert converted["sqls"]["this_week"] == 1.0
    assert converted["wins"]["this_week"] == 2.0
    assert converted["revenue"]["this_week"] == 13000.0
    assert converted["pipeline"]["this_week"] == 5000.0
    assert converted["win_rate"] == {"won": 2.0, "closed": 3.0, "rate": pytest.approx(2 / 3)}
    # the top wins, biggest first, with the campaigns touched before the close (in order) and the rep
    wins = report["top_wins"]
    assert [(w["deal"], w["amount"], w["rep"]) for w in wins] == [("Big one", 8000.0, "ray"), ("Acme expansion", 5000.0, "ray")]
    assert wins[0]["campaigns"] == [] and wins[0]["first_touch"] is None
    assert wins[1]["campaigns"] == ["Nurture", "Webinar X"]
    assert wins[1]["touchpoints"] == 2
    assert wins[1]["first_touch"] == {"channel": "email", "campaign": "Nurture"}
    assert wins[1]["last_touch"] == {"channel": "webinar", "campaign": "Webinar X"}
    assert wins[1]["person_id"] == people["p1"].pk
    # SLA for the one MQL handed over in the week, both sides
    sla = report["sla"]
    assert sla["mqls"] == 1
    assert sla["sales"]["within_sla"] + sla["sales"]["breached"] + sla["sales"]["pending"] == 1
    assert (sla["marketing"]["accepted"], sla["marketing"]["sqls"], sla["marketing"]["sql_rate"]) == (1, 1, 1.0)
    assert [c["key"] for c in sla["marketing"]["channels"]] == ["email"]
    # 25 weeks of nothing before: any revenue at all lies outside that (zero-width) normal range
    assert (report["changes"][0]["key"], report["changes"][0]["signal"]) == ("revenue", True)
    assert len(report["changes"]) == 8


def test_biggest_changes_put_signals_first():
    # given 25 weeks of 2 leads a week (Tuesdays) from email, then 9 in the report's week
    PersonFactory()
    StageChange.objects.all().delete()
    people = [PersonFactory(original_channel="email") for _ in range(2 * 25 + 9)]
    StageChange.objects.all().delete()
    first_monday = WEEK - dt.timedelta(weeks=25)
    days = [first_monday + dt.timedelta(weeks=i, days=1) for i in range(25) for _ in range(2)] + [WEEK + dt.timedelta(days=2)] * 9
    StageChange.objects.bulk_create(
        [StageChange(person=p, to_stage="lead", changed_at=_at(d.isoformat())) for p, d in zip(people, days, strict=True)]
    )
    # when
    report = weekly_report_get(week=WEEK, today=dt.date(2026, 11, 18))
    # then the jump in leads is a signal and comes first (a constant series: σ = 0, so any change is beyond it)
    top = report["changes"][0]
    assert top["key"] in ("leads", "leads:email")
    assert top["signal"] is True and top["this_week"] == 9.0 and top["previous_average"] == 2.0
    assert "above its normal range" in top["text"]
    assert {c["key"] for c in report["changes"][:2]} == {"leads", "leads:email"}


def test_weekly_page_prints_with_pinned_queries(client, django_assert_num_queries):
    # given
    _history()
    client.force_login(UserFactory(role=Role.VIEWER))
    # when: session, user, the data version (the report's, then its KPI data's), lead days, deals, campaign
    # costs, the SLA scorecard (7), top wins (deals, touchpoints); the second time the report is kept whole
    # (session, user, the data version)
    with django_assert_num_queries(16):
        response = client.get("/reports/weekly/?week=2026-11-12")
    with django_assert_num_queries(3):
        client.get("/reports/weekly/?week=2026-11-12")
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Week of 2026-11-09 to 2026-11-15" in html
    for section in ("weekly-came-in", "weekly-wins", "weekly-sla", "weekly-changes"):
        assert f'data-testid="{section}"' in html
    assert "Nurture → Webinar X" in html
    assert "analytics/dashboard.css" in html and "data-print" in html  # core/tandem.js opens the print dialog


def test_weekly_cli_json_and_html():
    # given
    _history()
    out_json, out_html = io.StringIO(), io.StringIO()
    # when
    call_command("report", "weekly", "--week", "2026-11-10", "--format", "json", stdout=out_json)
    call_command("report", "weekly", "--week", "2026-11-10", stdout=out_html)
    # then
    data = json.loads(out_json.getvalue())
    assert set(data) == {"week", "weeks_compared", "weeks_charted", "came_in", "converted", "sla", "top_wins", "changes"}
    assert data["converted"]["revenue"]["this_week"] == 13000.0
    html = out_html.getvalue()
    assert html.startswith("<!doctype html>") and "@media print" in html
    assert "Week of 2026-11-09 to 2026-11-15" in html and "$8,000" in html


def test_weekly_cli_names_a_bad_week():
    # given / when / then
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="week must be a date"):
        call_command("report", "weekly", "--week", "last-week", "--format", "json", stdout=io.StringIO())


def test_weekly_api(client):
    # given
    _history()
    client.force_login(UserFactory(role=Role.MARKETING))
    # when
    response = client.get("/api/reports/weekly?week=2026-11-09")
    bad = client.get("/api/reports/weekly?week=2999-01-01")
    # then
    assert response.status_code == 200 and response.json()["converted"]["wins"]["this_week"] == 2.0
    assert bad.status_code == 422 and bad.json()["field"] == "week"


def test_the_week_runs_from_monday_0000_to_the_next_monday_0000_local_time(settings):
    # given a company in Berlin (UTC+1 in November) and leads either side of both midnights, one MQL hand-off on
    # the next Monday morning (the day the old report counted as an eighth day) and a win at its first second
    settings.TIME_ZONE = "Europe/Berlin"
    inside = ("2026-11-08T23:30:00", "2026-11-15T22:30:00")  # Monday 00:30 and Sunday 23:30 in Berlin
    outside = ("2026-11-08T22:30:00", "2026-11-15T23:30:00")  # Sunday 23:30 before, next Monday 00:30 after
    people = [PersonFactory(original_channel="email") for _ in range(5)]
    StageChange.objects.all().delete()
    for person, moment in zip(people, (*inside, *outside), strict=False):
        StageChange.objects.create(person=person, to_stage="lead", changed_at=dt.datetime.fromisoformat(moment).replace(tzinfo=dt.UTC))
    handed = people[-1]
    StageChange.objects.create(person=handed, to_stage="mql", changed_at=dt.datetime(2026, 11, 16, 8, tzinfo=dt.UTC))
    DealFactory(stage="won", amount=Decimal("700"), created_at=_at("2026-11-01"), closed_at=dt.datetime(2026, 11, 15, 23, tzinfo=dt.UTC))
    # when
    report = weekly_report_get(week=WEEK, today=dt.date(2026, 11, 18), now=dt.datetime(2026, 11, 18, tzinfo=dt.UTC))
    # then only the two inside count; the next Monday's MQL and win belong to the next week in every section
    assert report["came_in"]["leads"]["this_week"] == 2.0
    assert (report["came_in"]["mqls"]["this_week"], report["sla"]["mqls"]) == (0.0, 0)
    assert (report["converted"]["wins"]["this_week"], report["converted"]["revenue"]["this_week"], report["top_wins"]) == (0.0, 0.0, [])
    nxt = weekly_report_get(week=WEEK + dt.timedelta(weeks=1), today=dt.date(2026, 11, 23), now=dt.datetime(2026, 11, 23, tzinfo=dt.UTC))
    # (the MQL hand-off is also that person's first day as a lead: lead or beyond)
    assert (nxt["came_in"]["leads"]["this_week"], nxt["came_in"]["mqls"]["this_week"], nxt["sla"]["mqls"]) == (2.0, 1.0, 1)
    assert (nxt["converted"]["wins"]["this_week"], nxt["converted"]["revenue"]["this_week"]) == (1.0, 700.0)
