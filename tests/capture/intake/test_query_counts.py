"""Pinned query counts: the list pages cost the same however many rows they show."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tandem.campaigns.models import Campaign
from tandem.users.models import Role
from tests.capture.factories import make_form
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _fill(n: int) -> Client:
    for i in range(n):
        campaign = Campaign.objects.create(name=f"C{i}", channel="email", utm_campaign=f"c{i}")
        form = make_form(name=f"Form {i}", campaign=campaign)
        Client().post(
            f"/api/capture/forms/{form.public_key}/submissions",
            data=json.dumps({"email": f"p{i}@example.com", "utm_campaign": f"c{i}"}),
            content_type="application/json",
        )
    client = Client()
    client.force_login(UserFactory(role=Role.MARKETING))
    return client


@pytest.mark.parametrize("rows", [1, 12])
@pytest.mark.parametrize(("path", "queries"), [("/forms/", 5), ("/journal/", 6), ("/campaigns/", 6)])
def test_list_pages_cost_a_fixed_number_of_queries(rows, path, queries, django_assert_num_queries):
    # given forms, submissions and campaigns
    client = _fill(rows)
    # when the page is opened, then it takes the same queries for 1 row or 12
    with django_assert_num_queries(queries):
        assert client.get(path).status_code == 200
