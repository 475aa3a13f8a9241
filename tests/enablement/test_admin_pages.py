"""The Django admin opens every enablement model's list and change page, with rows present."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tandem.enablement.models import Asset, ContentUse, Persona, Product
from tests.enablement.factories import AssetFactory, ContentUseFactory, ObjectionFactory, ProductFactory
from tests.users.factories import UserFactory


@pytest.mark.django_db
def test_enablement_admin_pages_open():
    # given one row of each model and a superuser
    ProductFactory()
    ObjectionFactory()
    ContentUseFactory(asset=AssetFactory())
    client = Client()
    client.force_login(UserFactory(role="admin", is_superuser=True, is_staff=True))
    # when / then every changelist and change page answers 200
    for model in (Product, Persona, Asset, ContentUse):
        name = model._meta.model_name
        first = model.objects.order_by("pk").first()
        assert first is not None
        assert client.get(reverse(f"admin:enablement_{name}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:enablement_{name}_change", args=[first.pk])).status_code == 200
