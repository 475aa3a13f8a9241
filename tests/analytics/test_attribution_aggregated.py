"""The attribution report aggregated in the database gives exactly what attribution from every touch gives."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import numpy as np
import pytest

from tandem.analytics.reports.selectors import REPORT_MODELS, attribution_journeys_get, attribution_report_get
from tandem.campaigns.models import Touchpoint
from tandem.core.errors import ValidationFailed
from tandem.crm.models import StageChange
from tandem.stats.attribution import Journeys, attribute, markov, markov_transition_counts, markov_with_counts
from tests.campaigns.factories import CampaignFactory
from tests.crm.factories import AccountFactory, DealFactory, PersonFactory

pytestmark = pytest.mark.django_db

START = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
CHANNELS = ("email", "paid_search", "content", "webinar", "")


def _at(rng: random.Random) -> dt.datetime:
    # Whole hours within 40 days: many touches share their time (ties broken by id); some carry microseconds.
    moment = START + dt.timedelta(hours=rng.randrange(40 * 24))
    return moment + dt.timedelta(microseconds=rng.choice((0, 0, 0, 250_001)))


def _history(seed: int = 7, people: int = 70) -> None:
    """People with and without touches, accounts or stage changes; won deals with and without touches, two won
    deals for some (the first to close counts), open and lost deals; campaigns sharing a name; unknown channels."""
    rng = random.Random(seed)
    accounts = [
        AccountFactory(industry=industry, size_band=size, country=country)
        for industry, size, country in (("software", "51-200", "DE"), ("retail", "1-10", "FR"), ("software", "1-10", ""))
    ]
    campaigns = [CampaignFactory(name="Spring"), CampaignFactory(name="Spring"), CampaignFactory(name="Autumn")]
    for p in range(people):
        person = PersonFactory(account=rng.choice([*accounts, None]), created_at=_at(rng))
        if rng.random() < 0.3:
            StageChange.objects.filter(person=person).delete()
        for stage in ("lead", "opportunity", "customer"):
            if rng.random() < 0.3:
                StageChange.objects.create(person=person, to_stage=stage, changed_at=_at(rng))
        for _ in range(0 if p % 9 == 0 else rng.randrange(1, 7)):
            Touchpoint.objects.create(
                person=person,
                channel=rng.choice(CHANNELS),
                campaign=rng.choice([*campaigns, None]),
                occurred_at=_at(rng),
            )
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            stage = rng.choice(("won", "won", "open", "lost"))
            closed = _at(rng) if stage != "open" else None
            amount = Decimal(rng.randrange(100, 100_000)) / 100
            DealFactory(person=person, stage=stage, closed_at=closed, amount=amount, created_at=_at(rng))


PERIODS = [
    (None, None),
    (dt.date(2025, 3, 10), dt.date(2025, 3, 25)),
    (dt.date(2025, 3, 20), None),
    (None, dt.date(2025, 3, 12)),
    (dt.date(2025, 3, 14), dt.date(2025, 3, 14)),
]


@pytest.mark.parametrize("by", ["channel", "campaign"])
@pytest.mark.parametrize(("date_from", "date_to"), PERIODS)
def test_every_model_gives_exactly_what_reading_every_touch_gives(by, date_from, date_to):
    # given a generated history
    _history()
    full = attribution_journeys_get(by=by, date_from=date_from, date_to=date_to, with_profile=False).journeys
    with_profile = attribution_journeys_get(by=by, date_from=date_from, date_to=date_to, with_profile=True).journeys
    for model in REPORT_MODELS:
        options = {"model": model, "by": by, "date_from": date_from, "date_to": date_to, "bootstrap": 4}
        # when
        aggregated = attribution_report_get(**options)
        everything = attribution_report_get(**options, journeys=with_profile if model == "incremental" else full)
        # then the same dict, to the last bit
        assert aggregated == everything, model


def test_the_history_has_the_cases_the_equality_is_about():
    # given
    _history()
    # when
    report = attribution_report_get(model="linear", by="channel")
    keys = [r["key"] for r in report["rows"]]
    # then conversions without touches ((none)), an unknown channel and non-converted journeys all occur
    assert "(none)" in keys and "(unknown)" in keys
    journeys = attribution_journeys_get(by="channel").journeys
    assert 0 < int(journeys.converted.sum()) < journeys.n_journeys


@pytest.mark.parametrize(
    ("model", "queries"),
    [("linear", 4), ("w_shaped", 4), ("markov", 5), ("shapley", 5), ("incremental", 6)],
)
def test_each_model_reads_a_fixed_number_of_queries(model, queries, django_assert_num_queries):
    # given two people, one converted (with stage changes, so no fallback query), one not
    a, b = PersonFactory(), PersonFactory()
    StageChange.objects.create(person=a, to_stage="opportunity", changed_at=START)
    Touchpoint.objects.create(person=a, channel="email", occurred_at=START)
    Touchpoint.objects.create(person=b, channel="content", occurred_at=START)
    DealFactory(person=a, stage="won", closed_at=START + dt.timedelta(days=1))
    # when / then: keys, won deals, converted touches, their stage changes (+ the others' counts, + profiles)
    with django_assert_num_queries(queries):
        attribution_report_get(model=model, by="channel", bootstrap=2)


def _random_journeys(seed: int) -> Journeys:
    rng = np.random.default_rng(seed)
    n = 400
    paths = [[str(k) for k in rng.integers(0, 5, rng.integers(0, 6))] for _ in range(n)]
    converted = rng.random(n) < 0.2
    revenue = np.where(converted, rng.integers(1, 10**7, n) / 100, 0.0)
    return Journeys.from_paths(paths, converted=converted, revenue=revenue, keys=[str(k) for k in range(5)])


def _subset(j: Journeys, rows: np.ndarray) -> Journeys:
    paths = [[j.keys[c] for c in j.codes[j.offsets[i] : j.offsets[i + 1]]] for i in rows.tolist()]
    return Journeys.from_paths(paths, converted=j.converted[rows], revenue=j.revenue[rows], keys=j.keys)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_markov_with_the_others_transition_counts_equals_markov_on_everything(seed):
    # given journeys, split into the converted ones and the transition counts of the others
    j = _random_journeys(seed)
    converted = _subset(j, np.flatnonzero(j.converted))
    others = markov_transition_counts(_subset(j, np.flatnonzero(~j.converted)))
    # when
    split = markov_with_counts(converted, others)
    whole = markov(j)
    # then exactly the same
    assert split.to_dict(by="channel") == whole.to_dict(by="channel")
    assert split.params == whole.params


@pytest.mark.parametrize("model", ["first_touch", "last_touch", "linear", "time_decay", "position_based", "w_shaped"])
def test_rule_based_models_on_the_converted_journeys_alone_equal_them_on_everything(model):
    # given
    j = _random_journeys(5)
    # when
    alone = attribute(_subset(j, np.flatnonzero(j.converted)), model)
    # then the same to the last bit, totals included (they are correctly rounded sums)
    assert alone.to_dict(by="channel") == attribute(j, model).to_dict(by="channel")


def test_markov_refuses_counts_of_another_shape_or_with_conversions():
    # given
    j = _random_journeys(1)
    counts = markov_transition_counts(j)
    # when / then
    with pytest.raises(ValidationFailed) as wrong_shape:
        markov_with_counts(j, counts[:, :-1])
    with pytest.raises(ValidationFailed) as converting:
        markov_with_counts(j, counts)
    assert wrong_shape.value.field == converting.value.field == "unconverted_counts"
