"""The demo's collateral requests: every column filled, warnings, lead times by type, repeat suggestions; same seed, same board."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from tandem.core.models import Event
from tandem.demo.collateral import COUNT, collateral_demo_seed
from tandem.enablement.requests import selectors
from tandem.enablement.requests.models import CollateralRequest
from tandem.users.models import Role
from tests.crm.factories import DealFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def _users() -> dict[str, object]:
    users: dict[str, object] = {"marketing": UserFactory(username="marketing", role=Role.MARKETING)}
    for name in ("rep", "jordan", "maya", "lena", "tom"):
        users[name] = UserFactory(username=name, role=Role.SALES_REP)
        DealFactory(owner=users[name])
    return users


def _state() -> list[tuple[str, str, str, int]]:
    return list(CollateralRequest.objects.order_by("id").values_list("kind", "purpose", "status", "quantity"))


def test_the_demo_fills_every_column_and_gives_lead_times_and_suggestions(django_assert_max_num_queries):
    # given the demo's users
    users = _users()
    # when the requests are seeded as of 20 November 2026, in a bounded number of queries (at most 25 a request)
    with django_assert_max_num_queries(25 * COUNT):
        filed = collateral_demo_seed(seed=42, users=users, now=NOW)
    # then all were filed, each with its filing event, in every column
    assert filed == COUNT == CollateralRequest.objects.count()
    assert Event.objects.filter(kind="collateral.requested").count() == COUNT
    statuses = set(CollateralRequest.objects.values_list("status", flat=True))
    assert statuses == {"new", "accepted", "in_progress", "delivered", "declined"}
    # nothing happened after "now", and every delivery took time
    assert not CollateralRequest.objects.filter(status_changed_at__gt=NOW).exists()
    for r in CollateralRequest.objects.filter(status="delivered"):
        assert r.delivered_at is not None and r.delivered_at > r.created_at
    # lead times order the types as the demo intends: flyers fastest, case studies slowest
    lead = selectors.collateral_lead_time_by_kind()
    assert lead["flyer"].median_days < lead["deck"].median_days < lead["case_study"].median_days
    # the repeated purposes come back as suggestions from several reps
    suggestions = selectors.collateral_suggestions(now=NOW)
    assert {s["kind"] for s in suggestions} >= {"case_study", "deck"}
    assert all(s["n_reps"] >= 2 for s in suggestions)
    # and open requests carry warnings as of that day, in the report as JSON and as a table
    out, table = io.StringIO(), io.StringIO()
    call_command("report", "requests", "--today", NOW.date().isoformat(), stdout=out)
    call_command("report", "requests", "--today", NOW.date().isoformat(), "--format", "table", stdout=table)
    report = json.loads(out.getvalue())
    assert {w["warning"] for w in report["warnings"]} == {"overdue", "due_soon"}
    assert {s["type"] for s in report["suggestions"]} >= {"case_study", "deck"}
    assert sum(report["counts"].values()) == COUNT
    for s in report["suggestions"]:
        assert f"{s['n_requests']} requests, {s['n_reps']} reps" in table.getvalue()


def test_the_same_seed_gives_the_same_requests():
    # given two seedings with the same seed into fresh tables
    users = _users()
    collateral_demo_seed(seed=7, users=users, now=NOW)
    first = _state()
    CollateralRequest.objects.all().delete()
    collateral_demo_seed(seed=7, users=users, now=NOW)
    # then the requests are the same
    assert _state() == first
    assert timezone.is_aware(NOW)
