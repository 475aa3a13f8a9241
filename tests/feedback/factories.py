from __future__ import annotations

import datetime as dt

import factory

from tandem.feedback.models import LeadRating, Question
from tests.crm.factories import PersonFactory


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Question

    person = factory.SubFactory(PersonFactory)
    asked_at = factory.LazyFunction(lambda: dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC))
    text = "What does it cost per seat?"


class LeadRatingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LeadRating

    person = factory.SubFactory(PersonFactory)
    rating = 4
    reasons = factory.LazyFunction(lambda: ["good_fit"])
    rated_at = factory.LazyFunction(lambda: dt.datetime(2026, 3, 4, 10, 0, tzinfo=dt.UTC))
