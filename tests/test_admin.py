"""Every admin page opens for an admin: a smoke test over all registered models."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from tests.campaigns.factories import CampaignFactory, TouchpointFactory
from tests.crm.factories import DealFactory
from tests.users.factories import UserFactory


@pytest.fixture
def admin_client(client, db):  # type: ignore[no-untyped-def]
    user = UserFactory(role="admin", is_superuser=True, is_staff=True)
    client.force_login(user)
    return client


def test_every_admin_changelist_and_change_page_opens(admin_client):
    # given one row of the main kinds
    DealFactory()
    TouchpointFactory(campaign=CampaignFactory())
    # when / then
    for model in admin.site._registry:
        meta = model._meta
        url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        assert admin_client.get(url).status_code == 200, url
        obj = model._default_manager.first()
        if obj is not None:
            change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk])
            assert admin_client.get(change).status_code == 200, change


def test_stage_history_cannot_be_edited_in_admin(admin_client):
    # given
    deal = DealFactory()
    change = deal.person.stage_changes.first()
    # when
    response = admin_client.post(
        reverse("admin:crm_stagechange_change", args=[change.pk]), {"to_stage": "customer"}
    )
    # then
    assert response.status_code == 403
    change.refresh_from_db()
    assert change.to_stage == "lead"
