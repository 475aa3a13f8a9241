from __future__ import annotations

import datetime as dt

import factory

from tandem.enablement.models import Asset, ContentUse, Objection, Persona, Product
from tandem.feedback.models import Theme
from tests.crm.factories import PersonFactory


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    summary = "Lead routing and attribution"
    possibilities = "Route leads in seconds\nSee which campaign won the deal"


class PersonaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Persona

    name = factory.Sequence(lambda n: f"Persona {n}")
    summary = "Runs the revenue stack"
    rules = factory.LazyFunction(lambda: {"all": [], "any": [{"id": "title", "type": "title_keywords", "field": "job_title", "keywords": ["RevOps"], "exclude": [], "label": ""}]})
    priority = 100
    pains = "Leads fall through the cracks\nNo one trusts the attribution"
    value_propositions = "Every lead routed within a minute"
    proof_points = "Acme cut response time from 2 days to 9 minutes"


class ObjectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Objection

    persona = factory.SubFactory(PersonaFactory)
    objection = "We already have a CRM"
    answer = "Tandem works beside it and syncs both ways."


class ThemeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Theme

    label = factory.Sequence(lambda n: f"theme {n}")


class AssetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Asset

    title = factory.Sequence(lambda n: f"Asset {n}")
    kind = "case_study"
    url = factory.Sequence(lambda n: f"https://example.com/assets/{n}")
    created_at = factory.LazyFunction(lambda: dt.datetime(2026, 1, 5, tzinfo=dt.UTC))


class ContentUseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContentUse

    asset = factory.SubFactory(AssetFactory)
    person = factory.SubFactory(PersonFactory)
    used_at = factory.LazyFunction(lambda: dt.datetime(2026, 2, 1, 12, 0, tzinfo=dt.UTC))
