"""The SLA scorecard (selector, page, `tandem report sla`) on a small hand-computed history."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from tandem.campaigns.models import Campaign
from tandem.crm.models import Activity, Person
from tandem.crm.services import person_change_stage
from tandem.lifecycle.selectors import sla_scorecard
from tandem.users.models import Role
from tests.crm.factories import PersonFactory
from tests.users.factories import TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

Z = 1.959963984540054
MONDAY_10 = dt.datetime(2026, 6, 15, 10, 0, tzinfo=dt.UTC)
JUNE = (dt.datetime(2026, 6, 1, tzinfo=dt.UTC), dt.datetime(2026, 7, 1, tzinfo=dt.UTC))


def _wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre, half = p + Z * Z / (2 * n), Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return (centre - half) / (1 + Z * Z / n), (centre + half) / (1 + Z * Z / n)


@pytest.fixture
def history() -> Any:
    # Ann (UTC team, 9-17, default 4 business hours) gets two MQLs on Monday 10:00. A, from the Spring
    # campaign, is called at 11:00 (60 business minutes, in time), accepted and reaches SQL. B is never
    # touched (breached) and rejected the next week.
    ann = UserFactory(role=Role.SALES_REP, username="ann", team=TeamFactory(name="UTC team", time_zone="UTC"))
    spring = Campaign.objects.create(name="Spring", channel="webinar")
    a, b = PersonFactory(), PersonFactory()
    Person.objects.filter(pk__in=[a.pk, b.pk]).update(owner=ann)
    Person.objects.filter(pk=a.pk).update(latest_campaign=spring)
    for p in (a, b):
        person_change_stage(person=p, to_stage="mql", at=MONDAY_10)
    Activity.objects.create(person=a, user=ann, kind_id="call", occurred_at=MONDAY_10 + dt.timedelta(hours=1))
    person_change_stage(person=a, to_stage="sal", at=MONDAY_10 + dt.timedelta(hours=2))
    person_change_stage(person=a, to_stage="sql", at=MONDAY_10 + dt.timedelta(days=3))
    person_change_stage(person=b, to_stage="recycled", at=MONDAY_10 + dt.timedelta(days=8))
    return ann


def test_the_scorecard_shows_both_sides(history: Any) -> None:
    # given the history above
    # when June is scored
    report = sla_scorecard(start=JUNE[0], end=JUNE[1])
    # then Ann: 2 MQLs, 1 touched after 60 minutes, 0.5 attempts on average, 1 of 2 within the SLA
    (rep,) = report["reps"]
    assert (rep["rep"], rep["mqls"], rep["touched"], rep["median_minutes_to_touch"], rep["mean_attempts"]) == ("ann", 2, 1, 60.0, 0.5)
    assert (rep["within_sla"], rep["breached"], rep["pending"], rep["within_rate"]) == (1, 1, 0, 0.5)
    assert (rep["within_low"], rep["within_high"]) == pytest.approx(_wilson(1, 2), abs=1e-12)
    # and marketing: Spring delivered one MQL, accepted and SQL; the other had no campaign and was rejected
    campaigns = {r["key"]: (r["mqls"], r["accepted"], r["sqls"]) for r in report["campaigns"]}
    assert campaigns == {"Spring": (1, 1, 1), "(no campaign)": (1, 0, 0)}
    channels = {r["key"]: r["mqls"] for r in report["channels"]}
    assert channels == {"webinar": 1, "paid_search": 1}
    assert [(m["key"], m["mqls"], m["sqls"]) for m in report["months"]] == [("2026-06", 2, 1)]
    # and May has nothing
    assert sla_scorecard(start=dt.datetime(2026, 5, 1, tzinfo=dt.UTC), end=JUNE[0])["mqls"] == 0


def test_the_report_command_and_the_page_give_the_same_numbers(history: Any, django_assert_num_queries: Any) -> None:
    # given a manager
    client = Client()
    client.force_login(UserFactory(role=Role.SALES_MANAGER))
    out = io.StringIO()
    # when the report runs as JSON for June and the page is opened for June
    call_command("report", "sla", "--format", "json", "--from", "2026-06-01", "--to", "2026-06-30", stdout=out)
    # session, user, two permission reads, the policy (page and scorecard), its history, open proposals, the
    # data version (the report cache), then one query per table the scorecard reads (teams' calendars
    # included): whatever the number of MQLs
    with django_assert_num_queries(16):
        page = client.get("/sla/?from=2026-06-01&to=2026-06-30")
    bad = client.get("/sla/?from=June")
    # then both show Ann's line; bad dates are refused naming the field
    report = json.loads(out.getvalue())
    assert report["mqls"] == 2 and report["reps"][0]["within_sla"] == 1
    body = page.content.decode()
    assert page.status_code == 200 and "<td>ann</td>" in body and "50 % (9–91 %)" in body
    assert bad.status_code == 422 and "field from" in bad.content.decode()


def test_admins_publish_the_sla_policy_from_the_page() -> None:
    # given an admin and a rep
    admin, rep = Client(), Client()
    admin.force_login(UserFactory(role=Role.ADMIN))
    rep.force_login(UserFactory(role=Role.SALES_REP))
    # when the rep tries, the admin sends a bad value, then a good policy
    fields = {"first_touch_hours": "2", "min_attempts": "3", "attempt_days": "7", "mql_target_per_month": "40", "reason": "Tighter"}
    refused = rep.post("/sla/", {**fields, "action": "publish"})
    bad = admin.post("/sla/", {**fields, "min_attempts": "0", "action": "publish"})
    good = admin.post("/sla/", {**fields, "action": "publish"})
    shown = rep.get("/sla/").content.decode()
    # then only the admin's good policy is in force, and everyone reads it; the mistake is named at its input
    assert refused.status_code == 403
    assert bad.status_code == 422
    assert 'id="min_attempts-error">min_attempts: At least one attempt is required before disqualifying. (value: 0)' in bad.content.decode()
    assert good.status_code == 302
    assert "Sales touches every MQL within 2 business hours of the hand-off." in shown
    assert "Marketing delivers at least 40 MQLs per month." in shown and "Tighter" in shown
