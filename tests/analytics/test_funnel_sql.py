"""The funnel counted by the database equals, to the last bit, the funnel computed from every stage change in numpy
(PostgreSQL reports use the counted one; SQLite keeps numpy, faster there, so both are checked on both)."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from tandem.analytics.reports.selectors import funnel_data_get, funnel_report_counted, funnel_report_get
from tandem.campaigns.models import Campaign
from tandem.core.errors import ValidationFailed
from tandem.crm.models import Account, Person, StageChange
from tandem.stats.funnel import funnel_report
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2024, 11, 20, tzinfo=dt.UTC)
ALL_STAGES = ["subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer", "recycled", "disqualified"]


def history(seed: int, people: int = 80) -> None:
    """People with random profiles (empty and missing values included) and random stage changes: skipped stages,
    stages off the main line, changes at the same moment (ties), whole seconds and microseconds, out of order."""
    rng = random.Random(seed)
    accounts = [
        Account.objects.create(name=f"a{i}", created_at=START, industry=rng.choice(["software", "", "retail"]), size_band=rng.choice(["", "1-10"]))
        for i in range(3)
    ]
    campaigns = [Campaign.objects.create(name=n, channel="email", created_at=START) for n in ("spring", "autumn")]
    owners: list[Any] = [UserFactory(username=f"owner{i}") for i in range(2)]
    rows = []
    for i in range(people):
        rows.append(
            Person(
                email=f"p{i}@x.example",
                created_at=START,
                original_channel=rng.choice(["email", "paid_search", ""]),
                job_title=rng.choice(["CEO", "", "CTO"]),
                account=rng.choice([None, *accounts]),
                original_campaign=rng.choice([None, *campaigns]),
                owner=rng.choice([None, *owners]),
            )
        )
    created = Person.objects.bulk_create(rows)
    moments = [START + dt.timedelta(days=rng.choice([0, 1, 40, 95]), seconds=rng.choice([0, 3600])) for _ in range(6)]
    changes = []
    for person in created:
        for _ in range(rng.randint(0, 5)):
            if rng.random() < 0.3:
                at = rng.choice(moments)  # ties across people and stages
            else:
                at = START + dt.timedelta(days=rng.uniform(0, 200))
                if rng.random() < 0.5:
                    at = at.replace(microsecond=0)
            changes.append(StageChange(person=person, to_stage=rng.choice(ALL_STAGES), changed_at=at))
    # Fractions just under a second, which a rounding to milliseconds would carry into the next second.
    edge = created[0]
    changes.append(StageChange(person=edge, to_stage="lead", changed_at=START + dt.timedelta(seconds=59.999999)))
    changes.append(StageChange(person=edge, to_stage="mql", changed_at=START + dt.timedelta(days=1, seconds=0.9996)))
    rng.shuffle(changes)
    StageChange.objects.bulk_create(changes)


def numpy_report(*, by: str, period: str, date_from: dt.date | None = None, date_to: dt.date | None = None) -> dict:
    """The report as it was computed before the database counted it: every change read, reach times in numpy."""
    data = funnel_data_get(by=by, date_from=date_from, date_to=date_to)
    return funnel_report(data.reached, segments=data.segments, period=period, by=by)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_database_funnel_equals_the_numpy_funnel_for_every_segment_period_and_filter(seed):
    # given a random history with ties, missing segments and skipped stages
    history(seed)
    cases = [
        ("none", "month", None, None),
        ("channel", "quarter", None, None),
        ("campaign", "month", dt.date(2024, 12, 1), None),
        ("industry", "month", None, dt.date(2025, 2, 28)),
        ("size_band", "quarter", dt.date(2024, 12, 30), dt.date(2025, 3, 10)),
        ("country", "month", None, None),
        ("job_title", "quarter", None, None),
        ("owner", "month", dt.date(2024, 11, 20), dt.date(2024, 11, 20)),
    ]
    for by, period, date_from, date_to in cases:
        # when
        report = funnel_report_counted(by=by, period=period, date_from=date_from, date_to=date_to)
        # then exactly equal, floats included
        assert report == numpy_report(by=by, period=period, date_from=date_from, date_to=date_to), (by, period)


def test_the_database_funnel_has_velocity_ties_and_skips_by_hand():
    # given two people: one jumps lead → SQL (MQL and SAL reached at the same moment), one lead → MQL in 1.5 days
    a, b = Person.objects.bulk_create([Person(original_channel="email", created_at=START), Person(original_channel="", created_at=START)])
    t0 = dt.datetime(2025, 1, 31, 23, 0, tzinfo=dt.UTC)
    StageChange.objects.bulk_create(
        [
            StageChange(person=a, to_stage="lead", changed_at=t0),
            StageChange(person=a, to_stage="sql", changed_at=t0 + dt.timedelta(days=2)),
            StageChange(person=a, to_stage="recycled", changed_at=t0 + dt.timedelta(days=3)),
            StageChange(person=b, to_stage="lead", changed_at=t0 + dt.timedelta(hours=2)),
            StageChange(person=b, to_stage="mql", changed_at=t0 + dt.timedelta(days=1.5, hours=2)),
        ]
    )
    # when
    report = funnel_report_counted(by="channel", period="month")
    # then
    assert report["total"]["counts"] == {"lead": 2, "mql": 2, "sal": 1, "sql": 1, "opportunity": 0, "customer": 0}
    first = report["total"]["steps"][0]
    assert (first["n"], first["converted"], first["days_median"], first["days_p80"]) == (2, 2, 1.75, 1.9)
    assert [s["days_median"] for s in report["total"]["steps"][1:3]] == [0.0, 0.0]
    assert [c["key"] for c in report["cohorts"]] == ["2025-01", "2025-02"]
    assert [s["key"] for s in report["segments"]] == ["(unknown)", "email"]
    assert report == numpy_report(by="channel", period="month")


def test_an_empty_database_gives_the_empty_report():
    # given nobody / when / then
    assert funnel_report_counted(by="owner", period="quarter") == numpy_report(by="owner", period="quarter")


def test_the_funnel_is_two_grouped_queries(django_assert_num_queries):
    # given
    history(4, people=30)
    # when / then: the counts per stage, the days per step; with or without a segment
    with django_assert_num_queries(2):
        funnel_report_counted(by="campaign", period="month", date_from=dt.date(2024, 12, 1))
    with django_assert_num_queries(2):
        funnel_report_counted()


def test_bad_options_are_refused_before_any_query(django_assert_num_queries):
    # given / when / then
    with django_assert_num_queries(0):
        with pytest.raises(ValidationFailed) as by:
            funnel_report_get(by="shoe_size")
        with pytest.raises(ValidationFailed) as period:
            funnel_report_counted(period="week")
        with pytest.raises(ValidationFailed) as dates:
            funnel_report_counted(date_from=dt.date(2025, 2, 1), date_to=dt.date(2025, 1, 1))
    assert (by.value.field, period.value.field, dates.value.field) == ("by", "period", "date_from")
