"""Record-level access on questions and lead ratings (tandem.users.access): API, pages and theme drill-downs."""

from __future__ import annotations

import pytest

from tandem.feedback.models import LeadRating, Question, Theme
from tandem.users.models import RepAccess
from tests.users.access_world import World, world  # noqa: F401

HX = {"HX-Request": "true"}


def _counts() -> tuple[int, int]:
    return Question.objects.count(), LeadRating.objects.count()


def _themed(w: World) -> Theme:
    # One theme holding every rep's question.
    theme = Theme.objects.create(label="Integrations", question_count=3)
    Question.objects.filter(pk__in=[w.a1.question.pk, w.a2.question.pk, w.b1.question.pk]).update(theme=theme)
    return theme


def test_a_rep_of_another_team_neither_sees_nor_changes_questions_and_ratings(client, world: World) -> None:  # noqa: F811
    # given rep B1 signed in, and A1's person
    client.force_login(world.rep_b1)
    person = world.a1.person
    before = _counts()
    # when B1 reads and writes A1's person's questions and ratings, by API and page
    answers = [
        client.get(f"/api/people/{person.pk}/questions").status_code,
        client.get(f"/api/people/{person.pk}/ratings").status_code,
        client.post(
            f"/api/people/{person.pk}/questions", {"text": "Price?"}, content_type="application/json"
        ).status_code,
        client.post(f"/api/people/{person.pk}/ratings", {"rating": 1}, content_type="application/json").status_code,
        client.get(f"/feedback/people/{person.pk}/panel/", headers=HX).status_code,
        client.post(f"/feedback/people/{person.pk}/questions/", {"text": "Price?"}, headers=HX).status_code,
        client.post(f"/feedback/people/{person.pk}/ratings/", {"rating": "1"}, headers=HX).status_code,
    ]
    # then every answer is 404, as for a person that does not exist, and nothing was written
    assert answers == [404] * 7
    assert _counts() == before


def test_a_question_may_not_name_another_reps_call(client, world: World) -> None:  # noqa: F811
    # given rep B1 and A1's call
    client.force_login(world.rep_b1)
    before = _counts()
    # when B1 records a question on their own person naming A1's call
    response = client.post(
        f"/api/people/{world.b1.person.pk}/questions",
        {"text": "Price?", "activity_id": world.a1.activity.pk},
        content_type="application/json",
    )
    # then the call is unknown to them and nothing is stored
    assert (response.status_code, response.json()["field"]) == (404, "activity_id")
    assert _counts() == before


def test_a_viewer_sees_questions_and_is_refused_writes(client, world: World) -> None:  # noqa: F811
    # given the viewer
    client.force_login(world.viewer)
    person = world.a1.person
    before = _counts()
    # when they list the questions, then post a question and a rating
    listed = client.get(f"/api/people/{person.pk}/questions")
    asked = client.post(f"/api/people/{person.pk}/questions", {"text": "Price?"}, content_type="application/json")
    rated = client.post(f"/api/people/{person.pk}/ratings", {"rating": 2}, content_type="application/json")
    page = client.post(f"/feedback/people/{person.pk}/questions/", {"text": "Price?"}, headers=HX)
    # then they see the question and every write is 403, changing nothing
    assert [q["id"] for q in listed.json()["items"]] == [world.a1.question.pk]
    assert (asked.status_code, rated.status_code, page.status_code) == (403, 403, 403)
    assert _counts() == before


def test_a_teammate_who_may_only_look_is_refused_writes(client, world: World) -> None:  # noqa: F811
    # given team A's reps may see the team's records but change only their own
    world.set_rep_access(world.team_a, RepAccess.TEAM_VIEW)
    client.force_login(world.rep_a2)
    person = world.a1.person
    before = _counts()
    # when A2 reads A1's person's ratings and the panel, then rates the person
    ratings = client.get(f"/api/people/{person.pk}/ratings")
    panel = client.get(f"/feedback/people/{person.pk}/panel/", headers=HX)
    rated = client.post(f"/api/people/{person.pk}/ratings", {"rating": 1}, content_type="application/json")
    # then they see the rating, the panel offers no forms, and the rating is refused with 403
    assert [r["id"] for r in ratings.json()["items"]] == [world.a1.rating.pk]
    assert panel.status_code == 200 and 'id="question-text"' not in panel.content.decode()
    assert rated.status_code == 403 and "not change" in rated.json()["detail"]
    assert _counts() == before


def test_a_manager_works_with_the_teams_people_only(client, world: World) -> None:  # noqa: F811
    # given manager A
    client.force_login(world.manager_a)
    # when they rate A2's person, and read B1's person's questions
    rated = client.post(
        f"/api/people/{world.a2.person.pk}/ratings", {"rating": 5}, content_type="application/json"
    )
    other = client.get(f"/api/people/{world.b1.person.pk}/questions")
    # then the rating is stored for the team's person, the other team's person is out of sight
    assert rated.status_code == 201
    assert list(LeadRating.objects.filter(person=world.a2.person).order_by("id").values_list("rating", flat=True)) == [
        4,
        5,
    ]
    assert other.status_code == 404


def test_the_theme_page_lists_only_the_questions_of_the_reps_own_people(client, world: World) -> None:  # noqa: F811
    # given one theme with a question of each rep
    theme = _themed(world)
    # when rep B1 and then marketing open the theme
    client.force_login(world.rep_b1)
    as_rep = client.get(f"/feedback/themes/{theme.pk}/").content.decode()
    client.force_login(world.marketing)
    as_marketing = client.get(f"/feedback/themes/{theme.pk}/").content.decode()
    # then the rep's list holds their own question only, marketing's all three; the count is the company's
    assert "Buffalo" in as_rep and "Aardvark" not in as_rep and "Albatross" not in as_rep
    assert "3 questions" in as_rep and "from the people you work with" in as_rep
    assert all(word in as_marketing for word in ("Aardvark", "Albatross", "Buffalo"))


def test_the_themes_report_counts_everything_and_lists_what_the_user_may_see(client, world: World) -> None:  # noqa: F811
    # given one theme with a question of each rep
    theme = _themed(world)
    # when manager A reads the themes report
    client.force_login(world.manager_a)
    report = client.get("/api/themes/report").json()
    # then the count is the company's and the assignments are team A's questions only
    assert [(t["id"], t["count"]) for t in report["themes"]] == [(theme.pk, 3)]
    assert sorted(a["email"] for a in report["assignments"]) == [
        "quincy@aardvark.example",
        "quincy@albatross.example",
    ]


@pytest.mark.parametrize("role", ["marketing", "admin"])
def test_company_wide_roles_see_every_question(client, world: World, role: str) -> None:  # noqa: F811
    # given marketing or an admin
    client.force_login(getattr(world, role))
    # when they read the questions of each rep's person
    seen = [client.get(f"/api/people/{world.of(rep).person.pk}/questions").json()["items"] for rep in world.reps]
    # then each holds that person's question
    assert [[q["id"] for q in s] for s in seen] == [[world.of(rep).question.pk] for rep in world.reps]
