"""The statistics API: /api/statistics/spc, /api/statistics/segments, /api/experiments."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from scipy import stats

from tandem.analytics.statistics.models import Experiment
from tandem.crm.models import StageChange
from tandem.users.models import Role
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
CSV = "unit_id,variant,assigned_at,converted\nu1,a,2025-03-01,1\nu2,a,2025-03-01,0\nu3,b,2025-03-02,1\nu4,b,2025-03-02,1\n"


def client_for(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


def seed() -> None:
    for day, won in (("2025-03-03", True), ("2025-03-04", False), ("2025-03-12", False)):
        person = PersonFactory(created_at=dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC))
        if won:
            StageChange.objects.create(
                person=person, from_stage="lead", to_stage="sql", changed_at=dt.datetime(2025, 3, 5, tzinfo=dt.UTC)
            )


def test_spc_endpoint_matches_the_report_shape():
    # given
    seed()
    # when
    response = client_for(Role.VIEWER).get(
        "/api/statistics/spc", {"metric": "volume", "by": "all", "period": "week", "as_of": "2025-03-17"}
    )
    # then
    assert response.status_code == 200
    data = response.json()
    assert (data["metric"], data["period"], data["series"][0]["key"]) == ("volume", "week", "all")
    assert [(p["start"], p["value"]) for p in data["series"][0]["points"]] == [
        ("2025-03-03", 2.0),
        ("2025-03-10", 1.0),
        ("2025-03-17", 0.0),
    ]


def test_spc_endpoint_refuses_bad_options_with_422():
    client = client_for(Role.VIEWER)
    bad = client.get("/api/statistics/spc", {"metric": "speed"})
    assert bad.status_code == 422 and bad.json()["field"] == "metric"
    half = client.get("/api/statistics/spc", {"baseline_from": "2025-03-01"})
    assert half.status_code == 422 and half.json()["field"] == "baseline_to"


def test_segments_endpoint():
    seed()
    response = client_for(Role.SALES_REP).get("/api/statistics/segments", {"by": "channel", "metric": "sql"})
    assert response.status_code == 200
    data = response.json()
    assert data["rows"][0]["segment"] == {"channel": "paid_search"}
    assert (data["rows"][0]["n"], data["rows"][0]["conversions"]) == (3, 1)
    assert client_for(Role.VIEWER).get("/api/statistics/segments", {"by": "shoe"}).status_code == 422


def test_define_import_and_analyse_an_experiment():
    # given
    client = client_for(Role.MARKETING)
    # when
    created = client.post(
        "/api/experiments",
        {"name": "cta", "variants": ["a", "b"], "metric": "clicks", "minimum_effect": 0.1},
        content_type="application/json",
    )
    exp_id = created.json()["id"]
    imported = client.post(f"/api/experiments/{exp_id}/assignments", {"csv": CSV}, content_type="application/json")
    detail = client.get(f"/api/experiments/{exp_id}")
    listed = client.get("/api/experiments")
    # then
    assert created.status_code == 201 and created.json()["variants"] == ["a", "b"]
    assert imported.json() == {"imported": 4}
    data = detail.json()
    assert [(v["name"], v["n"], v["conversions"]) for v in data["variants"]] == [("a", 2, 1), ("b", 2, 2)]
    assert data["analysis"]["comparisons"][0]["p_value"] == pytest.approx(stats.fisher_exact([[2, 0], [1, 1]])[1])
    assert [e["name"] for e in listed.json()["items"]] == ["cta"]


def test_import_errors_are_422_naming_line_and_column():
    exp = Experiment.objects.create(name="cta", variants=["a", "b"])
    response = client_for(Role.ADMIN).post(
        f"/api/experiments/{exp.pk}/assignments",
        {"csv": CSV.replace("u4,b,2025-03-02,1", "u4,b,2025-03-02,often")},
        content_type="application/json",
    )
    assert response.status_code == 422
    assert response.json()["detail"].startswith("line 5, column 'converted'")
    assert response.json()["field"] == "converted"


def test_only_admins_and_marketing_write():
    exp = Experiment.objects.create(name="cta", variants=["a", "b"])
    client = client_for(Role.SALES_MANAGER)
    assert client.post("/api/experiments", {"name": "x", "variants": ["a", "b"]}, content_type="application/json").status_code == 403
    assert client.post(f"/api/experiments/{exp.pk}/assignments", {"csv": CSV}, content_type="application/json").status_code == 403
    assert client.get(f"/api/experiments/{exp.pk}").status_code == 200


def test_unknown_experiment_is_404():
    response = client_for(Role.VIEWER).get("/api/experiments/999")
    assert response.status_code == 404 and response.json()["field"] == "experiment_id"


def test_duplicate_name_is_422():
    client = client_for(Role.MARKETING)
    body = {"name": "cta", "variants": ["a", "b"]}
    client.post("/api/experiments", body, content_type="application/json")
    again = client.post("/api/experiments", body, content_type="application/json")
    assert again.status_code == 422 and again.json()["field"] == "name"
