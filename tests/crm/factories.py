from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from tandem.crm.models import Account, Deal, LostReason, Person, Pipeline, PipelineStage


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Acme {n}")
    domain = factory.Sequence(lambda n: f"acme{n}.example")
    industry = "software"
    size_band = "51-200"
    country = "DE"
    created_at = factory.LazyFunction(lambda: dt.datetime(2025, 1, 1, tzinfo=dt.UTC))


class PersonFactory(factory.django.DjangoModelFactory):
    """A person created through the service, so it has its first StageChange."""

    class Meta:
        model = Person

    email = factory.Sequence(lambda n: f"person{n}@acme.example")
    first_name = "Alex"
    last_name = factory.Sequence(lambda n: f"Smith{n}")
    job_title = "Head of Operations"
    original_channel = "paid_search"
    created_at = factory.LazyFunction(lambda: dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.UTC))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):  # type: ignore[no-untyped-def]
        from tandem.crm.services import person_create

        stage = kwargs.pop("stage", "lead")
        return person_create(stage=stage, **kwargs)


class LostReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LostReason
        django_get_or_create = ("name",)

    name = "No budget"


class DealFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Deal

    person = factory.SubFactory(PersonFactory)
    amount = Decimal("12000.00")
    created_at = factory.LazyFunction(lambda: dt.datetime(2025, 4, 1, tzinfo=dt.UTC))
    # On the default pipeline, at its first stage of the deal's kind (open, won or lost), as the migration places deals.
    pipeline = factory.LazyFunction(lambda: Pipeline.objects.get(is_default=True))
    pipeline_stage = factory.LazyAttribute(
        lambda d: PipelineStage.objects.filter(pipeline=d.pipeline, kind=d.stage).order_by("position", "id").first()
    )
    stage = "open"
    closed_at = None
    stage_entered_at = factory.LazyAttribute(lambda d: d.closed_at or d.created_at)
