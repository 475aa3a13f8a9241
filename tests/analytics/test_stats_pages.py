"""The statistics pages: reachable by every role, filters, pinned query counts, experiment forms, a browser run."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tandem.analytics.statistics.models import Experiment, ExperimentAssignment
from tandem.analytics.statistics.services import experiment_create, experiment_import_csv
from tandem.crm.models import StageChange
from tandem.users.models import Role
from tests.crm.factories import PersonFactory
from tests.users.factories import UserFactory

CSV = "unit_id,variant,assigned_at,converted\n" + "".join(
    f"u{i},{'b' if i % 2 else 'control'},2025-03-0{1 + i % 5},{int(i % 3 == 0)}\n" for i in range(60)
)


def seed(weeks: int = 6) -> None:
    start = dt.datetime(2025, 1, 6, 9, tzinfo=dt.UTC)
    for w in range(weeks):
        for i, channel in enumerate(("paid_search", "email", "paid_search")):
            person = PersonFactory(created_at=start + dt.timedelta(weeks=w, days=i), original_channel=channel)
            if (w + i) % 3 == 0:
                StageChange.objects.create(
                    person=person, from_stage="lead", to_stage="mql", changed_at=start + dt.timedelta(weeks=w, days=i + 1)
                )


def client_for(role: str) -> Client:
    client = Client()
    client.force_login(UserFactory(role=role))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_role_reaches_the_three_pages_from_the_nav(role: str):
    # given
    client = client_for(role)
    # when
    home = client.get(reverse("stats:spc"))
    # then the nav has "Statistics" and the tabs link the other pages
    assert home.status_code == 200
    html = home.content.decode()
    assert f'href="{reverse("stats:spc")}"' in html and ">Statistics<" in html
    for name in ("stats:segments", "stats:experiments"):
        assert f'href="{reverse(name)}"' in html
        assert client.get(reverse(name)).status_code == 200


@pytest.mark.django_db
def test_spc_page_draws_one_chart_per_series_with_its_sentences():
    # given
    seed()
    client = client_for(Role.MARKETING)
    # when
    response = client.get(reverse("stats:spc"), {"metric": "mql_rate", "by": "channel", "period": "week"})
    # then one series per channel, each with a chart and its summary sentence
    assert response.status_code == 200
    charts = response.context["charts"]
    assert [c["series"].key for c in charts] == ["paid_search", "email"]
    html = response.content.decode()
    assert html.count('data-chart="spc-') == 2
    assert charts[0]["series"].summary in html.replace("&#x27;", "'")
    # immature points are grey in the figure
    markers = charts[0]["figure"]["data"][3]["marker"]["color"]
    mature = [p.mature for p in charts[0]["series"].points]
    assert [c == "#9aa3af" for c in markers] == [not m for m in mature]


@pytest.mark.django_db
def test_spc_page_ignores_bad_filters():
    seed(2)
    response = client_for(Role.VIEWER).get(reverse("stats:spc"), {"metric": "nonsense", "period": "year"})
    assert response.status_code == 200
    assert (response.context["metric"], response.context["period"]) == ("volume", "week")


@pytest.mark.django_db
def test_segments_page_crosses_two_fields():
    seed(2)
    response = client_for(Role.SALES_REP).get(reverse("stats:segments"), {"by": "channel", "by2": "job_title", "metric": "sql"})
    assert response.status_code == 200
    assert response.context["report"].by == ("channel", "job_title")
    assert "paid search · Head of Operations" in response.content.decode()


@pytest.mark.django_db
def test_pinned_query_counts(django_assert_num_queries):
    # given
    seed()
    exp = experiment_create(name="cta", variants=["control", "b"], metric="clicks", minimum_effect=0.05)
    experiment_import_csv(experiment=exp, source=CSV)
    client = client_for(Role.MARKETING)
    client.get(reverse("stats:spc"))  # warm the session
    # when / then: session + user, the data version (report cache), then the page's own queries (SPC: stage
    # changes, won deals, people)
    with django_assert_num_queries(6):
        assert client.get(reverse("stats:spc"), {"metric": "win_rate", "by": "campaign"}).status_code == 200
    # segments: the data version, lead ids (2), converted ids (2 for won), people's fields, campaign costs
    with django_assert_num_queries(9):
        assert client.get(reverse("stats:segments"), {"by": "channel"}).status_code == 200
    with django_assert_num_queries(3):
        assert client.get(reverse("stats:experiments")).status_code == 200
    with django_assert_num_queries(4):
        assert client.get(reverse("stats:experiment", args=["cta"])).status_code == 200


@pytest.mark.django_db
def test_experiment_page_shows_the_verdict_and_the_planner_computes():
    # given
    exp = experiment_create(name="cta", variants=["control", "b"], metric="clicks", minimum_effect=0.05)
    experiment_import_csv(experiment=exp, source=CSV)
    client = client_for(Role.VIEWER)
    # when
    page = client.get(reverse("stats:experiment", args=["cta"]))
    planner = client.get(reverse("stats:experiments"), {"baseline": "10", "effect": "1", "alpha": "5", "power": "80"})
    # then
    assert page.status_code == 200
    assert page.context["report"]["verdict"] in page.content.decode().replace("&#x27;", "'")
    assert 'data-chart="seq-0"' in page.content.decode()
    # statsmodels NormalIndPower: 10% → 11% at α 0.05, power 0.8 needs 14,745 per variant
    assert planner.context["plan"].n_control == 14745
    assert client.get(reverse("stats:experiment", args=["nope"])).status_code == 404


@pytest.mark.django_db
def test_marketing_defines_an_experiment_and_imports_a_file():
    # given
    client = client_for(Role.MARKETING)
    # when
    created = client.post(
        reverse("stats:experiments"),
        {"name": "hero", "variants": "control,b", "metric": "sql_rate", "minimum_effect": "2", "subject_type": "form"},
    )
    upload = SimpleUploadedFile("ab.csv", CSV.encode(), content_type="text/csv")
    imported = client.post(reverse("stats:experiment_import", args=["hero"]), {"file": upload})
    # then
    assert created.status_code == 302 and created["Location"] == reverse("stats:experiment", args=["hero"])
    exp = Experiment.objects.get(name="hero")
    assert (exp.minimum_effect, exp.subject_type) == (0.02, "form")
    assert imported.status_code == 302
    assert ExperimentAssignment.objects.filter(experiment=exp).count() == 60


@pytest.mark.django_db
def test_a_bad_file_imports_nothing_and_says_why():
    exp = experiment_create(name="hero", variants=["control", "b"])
    client = client_for(Role.ADMIN)
    upload = SimpleUploadedFile("ab.csv", b"unit_id,variant,assigned_at,converted\nu1,control,2025-03-01,perhaps\n")
    response = client.post(reverse("stats:experiment_import", args=["hero"]), {"file": upload}, follow=True)
    assert "Nothing imported: line 2, column &#x27;converted&#x27;" in response.content.decode()
    assert not ExperimentAssignment.objects.filter(experiment=exp).exists()


@pytest.mark.django_db
def test_viewers_and_reps_cannot_define_or_import():
    experiment_create(name="hero", variants=["control", "b"])
    for role in (Role.VIEWER, Role.SALES_REP):
        client = client_for(role)
        assert client.post(reverse("stats:experiments"), {"name": "x", "variants": "a,b"}).status_code == 403
        assert client.post(reverse("stats:experiment_import", args=["hero"])).status_code == 403
    assert Experiment.objects.count() == 1


@pytest.mark.django_db
def test_a_bad_definition_is_shown_with_422():
    response = client_for(Role.MARKETING).post(reverse("stats:experiments"), {"name": "x", "variants": "only", "minimum_effect": "1"})
    assert response.status_code == 422
    assert "give at least two different variant names" in response.content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_opens_the_three_pages_and_switches_a_filter(live_server, page):
    # given
    from tandem.users.roles import roles_sync
    from tandem.users.services import user_create

    roles_sync()
    user_create(username="mia", password="browser-test-pass-1", role=Role.MARKETING, first_name="Mia", last_name="Demo")
    seed(3)
    exp = experiment_create(name="cta", variants=["control", "b"], metric="clicks", minimum_effect=0.05)
    experiment_import_csv(experiment=exp, source=CSV)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "mia")
    page.fill("input[name=password]", "browser-test-pass-1")
    page.click("button[type=submit]")
    # when: Statistics from the nav, then switch the metric
    page.click("nav >> text=Statistics")
    page.wait_for_selector("[data-testid=spc-series] .plot-container")
    page.select_option("#spc-metric", "mql_rate")
    page.wait_for_url("**metric=mql_rate**")
    # then
    assert page.locator("[data-testid=spc-series]").count() == 2
    assert "MQL" in page.locator("[data-testid=spc-series]").first.inner_text()
    page.click("text=Segments")
    page.wait_for_selector("[data-testid=segment-table]")
    assert page.locator("[data-testid=segment-table] tbody tr").count() == 2
    page.click(".stats-tabs >> text=Experiments")
    page.click("text=cta")
    page.wait_for_selector("[data-testid=verdict]")
    assert "click rate" in page.locator("[data-testid=verdict]").inner_text()
    page.wait_for_selector("[data-chart=seq-0] .plot-container")


@pytest.mark.django_db
def test_an_experiment_without_data_says_so():
    # given
    experiment_create(name="fresh", variants=["control", "b"])
    # when
    response = client_for(Role.MARKETING).get(reverse("stats:experiment", args=["fresh"]))
    # then
    assert response.status_code == 200
    assert "No analysis yet: at least two variants need assigned units." in response.content.decode()
    assert 'data-testid="import-form"' in response.content.decode()
