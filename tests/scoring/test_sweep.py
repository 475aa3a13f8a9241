"""The minute sweep: people with a new touchpoint, activity, profile change or closed deal are rescored."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tandem.campaigns.models import Touchpoint
from tandem.core.models import Event
from tandem.crm.models import Person
from tandem.crm.services import activity_log, deal_close, deal_create, person_update
from tandem.scoring.models import PersonScore
from tandem.scoring.services import SWEEP_EVENT, people_rescore_recent
from tests.campaigns.factories import TouchpointFactory
from tests.crm.factories import PersonFactory

NOW = dt.datetime(2026, 6, 30, 12, 0, tzinfo=dt.UTC)
HALF_LIFE = 30.0  # days, the default engagement rules


def _sweep_events() -> int:
    return Event.objects.filter(kind=SWEEP_EVENT).count()


@pytest.mark.django_db
def test_the_first_sweep_only_sets_the_watermarks():
    # given people and touchpoints from before the first sweep
    TouchpointFactory.create_batch(3)
    # when the sweep runs for the first time
    count = people_rescore_recent(now=NOW)
    # then nobody is rescored (history is the full refresh's business) and the watermarks are stored
    assert count == 0
    assert PersonScore.objects.count() == 0
    marks = Event.objects.get(kind=SWEEP_EVENT).data
    assert marks["touchpoint"] == Touchpoint.objects.order_by("-id").values_list("id", flat=True).first()
    assert marks["person"] == Person.objects.order_by("-id").values_list("id", flat=True).first()


@pytest.mark.django_db
def test_a_new_touchpoint_rescores_only_its_person_with_the_decayed_engagement():
    # given two people and a first sweep
    quiet, busy = PersonFactory(), PersonFactory()
    people_rescore_recent(now=NOW)
    # when a webinar (10 points) two half-lives ago and a demo request (25 points) now arrive for one of them
    TouchpointFactory(person=busy, kind="webinar", occurred_at=NOW - dt.timedelta(days=2 * HALF_LIFE))
    TouchpointFactory(person=busy, kind="demo_request", occurred_at=NOW)
    count = people_rescore_recent(now=NOW)
    # then only that person is scored: engagement 10 × 0.25 + 25, fit grade C (decision-maker title, 20 points)
    assert count == 1
    score = PersonScore.objects.get()
    assert score.person_id == busy.pk
    assert score.engagement == pytest.approx(27.5, rel=1e-12)
    assert (score.fit_grade, score.fit_points) == ("C", 20.0)
    assert score.probability is None  # no model trained: the rule scores still refresh
    assert not PersonScore.objects.filter(person=quiet).exists()
    # and the row says when it was written (wall clock), whatever moment the score is as of
    assert score.updated_at > NOW


@pytest.mark.django_db
def test_an_activity_a_profile_change_and_a_new_person_are_picked_up():
    # given a scored person and a first sweep
    rep_called, retitled = PersonFactory(), PersonFactory()
    people_rescore_recent(now=NOW)
    # when a rep logs a meeting (15 points) with one, the other's title changes to one without fit points,
    # and a new person arrives
    activity_log(person=rep_called, kind="meeting", occurred_at=NOW)
    person_update(person=retitled, job_title="Student")
    newcomer = PersonFactory()
    count = people_rescore_recent(now=NOW)
    # then all three are rescored with their new rule scores
    assert count == 3
    scores = {s.person_id: s for s in PersonScore.objects.all()}
    assert scores[rep_called.pk].engagement == pytest.approx(15.0)
    assert (scores[retitled.pk].fit_grade, scores[retitled.pk].fit_points) == ("D", 0.0)
    assert scores[newcomer.pk].fit_grade == "C"


@pytest.mark.django_db
def test_a_won_deal_drops_the_score_and_a_quiet_minute_writes_nothing(django_assert_num_queries):
    # given a scored person with an open deal
    person = PersonFactory()
    people_rescore_recent(now=NOW)
    TouchpointFactory(person=person, kind="webinar", occurred_at=NOW)
    deal = deal_create(person=person, name="First order", amount=Decimal(1000))
    people_rescore_recent(now=NOW)
    assert PersonScore.objects.filter(person=person).exists()
    # when the deal is won and the sweep runs
    deal_close(deal=deal, won=True, at=NOW)
    people_rescore_recent(now=NOW)
    # then the person has no score left (nothing to predict)
    assert not PersonScore.objects.filter(person=person).exists()
    # and once the last rows settled (PostgreSQL: the next sweep sees no transaction left that could still
    # commit a lower id, core/watermark.py), a sweep with nothing new costs five queries (last marks + four
    # ranges) and writes no event
    people_rescore_recent(now=NOW)
    sweeps = _sweep_events()
    with django_assert_num_queries(5):
        assert people_rescore_recent(now=NOW) == 0
    assert _sweep_events() == sweeps
