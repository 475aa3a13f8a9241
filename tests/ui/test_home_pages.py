from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tandem.crm.selectors import week_start
from tandem.crm.services import deal_close, deal_create
from tests.campaigns.factories import CampaignFactory
from tests.crm.factories import PersonFactory
from tests.users.factories import TeamFactory, UserFactory

HOMES = {
    "admin": ("/home/admin/", "System overview"),
    "marketing": ("/home/marketing/", "Marketing overview"),
    "sales_rep": ("/home/rep/", "My day"),
    "sales_manager": ("/home/manager/", "Team pipeline"),
    "viewer": ("/home/viewer/", "Company funnel"),
}


def test_login_page_renders_the_form(client, db):
    # given / when
    response = client.get("/login/")
    # then
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content
    assert b"vendor/htmx-2.min.js" in response.content
    assert b"plotly" not in response.content


@pytest.mark.parametrize("role", list(HOMES))
def test_signing_in_lands_on_the_roles_home(client, db, role):
    # given
    UserFactory(username="someone", role=role)
    # when
    response = client.post("/login/", {"username": "someone", "password": "pw-for-tests-1"}, follow=True)
    # then
    url, heading = HOMES[role]
    assert response.redirect_chain == [("/", 302), (url, 302)][: len(response.redirect_chain)]
    assert response.request["PATH_INFO"] == url
    assert f"<h1>{heading}</h1>".encode() in response.content


def test_wrong_password_stays_on_the_login_page_with_a_message(client, db):
    # given
    UserFactory(username="someone")
    # when
    response = client.post("/login/", {"username": "someone", "password": "nope"})
    # then
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("role", list(HOMES))
def test_home_redirects_to_the_roles_own_home(client, db, role):
    # given
    client.force_login(UserFactory(role=role))
    # when
    response = client.get("/")
    # then
    assert response.status_code == 302
    assert response["Location"] == HOMES[role][0]


def test_anonymous_visitors_are_sent_to_login(client, db):
    # given / when
    home = client.get("/")
    rep_home = client.get("/home/rep/")
    # then
    assert home["Location"] == "/login/?next=/"
    assert rep_home["Location"] == "/login/?next=/home/rep/"


@pytest.mark.parametrize(
    ("role", "other"),
    [("sales_rep", "admin"), ("viewer", "manager"), ("marketing", "rep"), ("sales_manager", "marketing")],
)
def test_a_role_cannot_open_another_roles_home(client, db, role, other):
    # given
    client.force_login(UserFactory(role=role))
    # when
    response = client.get(f"/home/{other}/")
    # then
    assert response.status_code == 403
    assert b"You can\xe2\x80\x99t open this page" in response.content
    assert b"home page; yours is linked below" in response.content


def test_a_superuser_opens_every_home(client, db):
    # given
    boss = UserFactory(role="viewer", is_superuser=True)
    client.force_login(boss)
    # when
    codes = [client.get(url).status_code for url, _ in HOMES.values()]
    landing = client.get("/")
    # then
    assert codes == [200] * 5
    assert landing["Location"] == "/home/admin/"


def test_logout_needs_a_post_and_ends_the_session(client, db):
    # given
    client.force_login(UserFactory())
    # when
    by_get = client.get("/logout/")
    by_post = client.post("/logout/")
    # then
    assert by_get.status_code == 405
    assert by_post.status_code == 302 and by_post["Location"] == "/login/"
    assert client.get("/home/rep/").status_code == 302


def test_navigation_shows_role_items_and_marks_the_current_one(client, db):
    # given
    admin, rep = UserFactory(role="admin"), UserFactory(role="sales_rep", first_name="Rita", last_name="Rep")
    # when
    client.force_login(rep)
    rep_page = client.get("/home/rep/").content.decode()
    client.force_login(admin)
    admin_page = client.get("/home/admin/").content.decode()
    # then
    assert '<a href="/" class="active" aria-current="page">Home</a>' in rep_page
    assert '<a href="/people/">People</a>' in rep_page
    assert "Django admin</a>" not in rep_page.split("<main")[0]
    assert 'data-testid="user-role">Sales rep<' in rep_page
    assert "Rita Rep" in rep_page
    assert '<a href="/admin/">Django admin</a>' in admin_page
    assert 'action="/logout/"' in rep_page


def test_admin_home_counts_people_deals_campaigns_and_users(client, db, django_assert_num_queries):
    # given
    admin = UserFactory(role="admin")
    PersonFactory()
    deal = deal_create(person=PersonFactory(), amount=Decimal("1200"))
    deal_close(deal=deal, won=True)
    deal_create(person=PersonFactory(), amount=Decimal("300"))
    CampaignFactory()
    client.force_login(admin)
    # when: session, user, the deal aggregate, people, campaigns, users
    with django_assert_num_queries(6):
        response = client.get("/home/admin/")
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="count-people">3<' in body
    assert 'data-testid="count-deals">2<' in body
    assert 'data-testid="count-campaigns">1<' in body
    assert 'data-testid="count-users">1<' in body
    assert "1 open" in body
    assert "1,200" in body and "300" in body
    assert 'href="/admin/"' in body


def test_marketing_home_compares_this_and_last_week_by_channel(client, db, django_assert_num_queries):
    # given
    now = timezone.now()
    monday = week_start(now=timezone.localtime(now))
    PersonFactory(created_at=now, original_channel="webinar")
    PersonFactory(created_at=monday - dt.timedelta(days=2), original_channel="webinar")
    PersonFactory(created_at=monday - dt.timedelta(days=3), original_channel="email")
    PersonFactory(created_at=monday - dt.timedelta(days=9), original_channel="email")
    CampaignFactory(name="Running now", started_on=now.date() - dt.timedelta(days=1), ended_on=None)
    CampaignFactory(name="Long over")
    client.force_login(UserFactory(role="marketing"))
    # when: session, user, leads by channel, running campaigns
    with django_assert_num_queries(4):
        response = client.get("/home/marketing/")
    # then
    body = response.content.decode()
    assert 'data-testid="leads-this-week">1<' in body
    assert 'data-testid="leads-last-week">2<' in body
    assert "Running now" in body and "Long over" not in body
    assert "vendor/plotly.min.js" in body
    assert '<td>Webinar</td><td class="num">1</td><td class="num">1</td>' in body
    assert '<td>Email</td><td class="num">0</td><td class="num">1</td>' in body


def test_rep_home_shows_only_the_reps_own_people_and_deals(client, db, django_assert_num_queries):
    # given
    rep, other = UserFactory(role="sales_rep"), UserFactory(role="sales_rep")
    mine = PersonFactory(owner=rep, first_name="Mine", last_name="Lead")
    PersonFactory(owner=other, first_name="Their", last_name="Lead")
    deal_create(
        person=PersonFactory(owner=rep, first_name="Deal", last_name="Person"),
        amount=Decimal("5000"),
        name="Big one",
    )
    deal_create(person=PersonFactory(owner=other), amount=Decimal("70"), name="Not mine")
    client.force_login(rep)
    # when: session, user, the day's task counts (no tasks: no task rows), permissions (user's, group's),
    # stage counts, open deals, newest people
    with django_assert_num_queries(8):
        response = client.get("/home/rep/")
    # then
    body = response.content.decode()
    assert "Big one" in body and "Not mine" not in body
    assert f'href="/people/{mine.pk}/">Mine Lead</a>' in body
    assert "Their Lead" not in body
    assert f"/people/?owner={rep.pk}&amp;stage=lead" in body
    assert f"/people/?owner={rep.pk}&amp;stage=opportunity" in body


def test_manager_home_lists_the_team_with_pipeline_per_rep(client, db, django_assert_num_queries):
    # given
    manager = UserFactory(role="sales_manager")
    team = TeamFactory(name="EMEA", manager=manager)
    ann = UserFactory(role="sales_rep", first_name="Ann", last_name="A", team=team)
    UserFactory(role="sales_rep", first_name="Out", last_name="Side")
    PersonFactory(owner=ann, stage="mql")
    won = deal_create(person=PersonFactory(owner=ann), amount=Decimal("800"), owner=ann)
    deal_close(deal=won, won=True)
    client.force_login(manager)
    # when: session, user, team reps, leads per rep, deals per rep
    with django_assert_num_queries(5):
        response = client.get("/home/manager/")
    # then
    body = " ".join(response.content.decode().split())
    assert f'<a href="/people/?owner={ann.pk}">Ann A</a>' in body
    assert "Out Side" not in body
    assert (
        '<td class="num">1</td> <td class="num">0</td> <td class="num">0</td> <td class="num">1</td> <td class="num">800</td>'
        in body
    )


def test_viewer_home_shows_the_funnel_by_stage(client, db, django_assert_num_queries):
    # given
    PersonFactory(stage="lead")
    PersonFactory(stage="lead")
    PersonFactory(stage="mql")
    PersonFactory(stage="subscriber")
    client.force_login(UserFactory(role="viewer"))
    # when: session, user, one grouped count
    with django_assert_num_queries(3):
        response = client.get("/home/viewer/")
    # then
    body = " ".join(response.content.decode().split())
    assert "4 people" in body
    assert (
        '<a href="/people/?stage=lead">Lead</a> <svg class="bar-track" aria-hidden="true"><rect class="bar-fill" width="100%" height="100%" rx="4"/></svg> <span class="num">2</span>'
        in body
    )
    assert (
        '<a href="/people/?stage=mql">MQL</a> <svg class="bar-track" aria-hidden="true"><rect class="bar-fill" width="50%" height="100%" rx="4"/></svg> <span class="num">1</span>'
        in body
    )
    assert "vendor/plotly.min.js" in body


def test_an_empty_installation_renders_every_home(client, db):
    # given nothing but a superuser
    client.force_login(UserFactory(role="admin", is_superuser=True))
    # when
    responses = [client.get(url) for url, _ in HOMES.values()]
    # then
    assert [r.status_code for r in responses] == [200] * 5
    assert b"No new leads in the last two weeks." in responses[1].content
    assert b"No open deals." in responses[2].content
    assert b"No sales reps yet." in responses[3].content
    assert b"No people yet." in responses[4].content
