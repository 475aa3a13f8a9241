"""Feedback services: recording questions and ratings, and themes kept in the database."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import Activity
from tandem.demo.company import question_text
from tandem.feedback.models import LeadRating, Question, Theme, ThemeSpace
from tandem.feedback.services import (
    lead_rating_record,
    question_record,
    questions_assign_unthemed,
    theme_rename,
    theme_split,
    themes_merge,
    themes_mine,
)
from tests.crm.factories import PersonFactory
from tests.feedback.factories import QuestionFactory

pytestmark = pytest.mark.django_db
AT = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _seed_questions(
    themes: tuple[str, ...] = ("pricing", "integrations", "security"), n: int = 20
) -> dict[int, str]:
    """n demo-style questions per theme on one person each; returns question id -> true theme."""
    rnd = random.Random(3)
    truth = {}
    for i in range(n):
        for theme in themes:
            q = QuestionFactory(text=question_text(rnd, theme), asked_at=AT + dt.timedelta(days=i))
            truth[q.pk] = theme
    return truth


def _majority_theme(truth: dict[int, str], name: str) -> Theme:
    ids = [q for q, t in truth.items() if t == name]
    theme_ids = list(Question.objects.filter(pk__in=ids).values_list("theme_id", flat=True))
    return Theme.objects.get(pk=max(set(theme_ids), key=theme_ids.count))


# ---- questions and ratings ----


def test_a_question_is_recorded_with_its_event():
    # given a person and a call with them
    person = PersonFactory()
    call = Activity.objects.create(person=person, kind_id="call", occurred_at=AT)
    # when a rep records an objection heard on the call
    q = question_record(
        person=person,
        text="  Is there a discount for NGOs? ",
        product="Tandem Pro",
        is_objection=True,
        activity=call,
    )
    # then it is stored trimmed, tagged, without a theme (nothing mined yet), and an event says so
    q.refresh_from_db()
    assert (q.text, q.product, q.is_objection, q.activity_id, q.theme_id) == (
        "Is there a discount for NGOs?",
        "Tandem Pro",
        True,
        call.pk,
        None,
    )
    event = Event.objects.get(kind="question.recorded")
    assert (
        event.subject_id == q.pk and event.data["person_id"] == person.pk and event.data["theme_id"] is None
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"text": "   "}, "text"),
        ({"text": "x" * 2001}, "text"),
        ({"text": "a\x00b"}, "text"),
        ({"text": "ok", "product": "p" * 121}, "product"),
    ],
)
def test_a_bad_question_is_refused_and_nothing_is_written(kwargs, field):
    # given a person
    person = PersonFactory()
    # when a bad question is recorded
    with pytest.raises(ValidationFailed) as exc:
        question_record(person=person, **kwargs)
    # then the field is named and nothing is stored
    assert exc.value.field == field
    assert Question.objects.count() == 0 and not Event.objects.filter(kind="question.recorded").exists()


def test_a_question_from_another_persons_activity_is_refused():
    # given two people and a call with the second
    first, second = PersonFactory(), PersonFactory()
    call = Activity.objects.create(person=second, kind_id="call", occurred_at=AT)
    # when a question of the first is tied to the second's call
    with pytest.raises(ValidationFailed) as exc:
        question_record(person=first, text="How long does setup take?", activity=call)
    # then it is refused
    assert exc.value.field == "activity_id" and Question.objects.count() == 0


def test_a_lead_rating_is_recorded_with_reasons_and_event():
    # given a person
    person = PersonFactory()
    # when a rep rates the lead 2 for no budget, with the code given twice
    row = lead_rating_record(
        person=person, rating=2, reasons=["no_budget", "bad_timing", "no_budget"], note="Q4 maybe"
    )
    # then the rating is stored once per code and an event names it
    row.refresh_from_db()
    assert (row.rating, row.reasons, row.note) == (2, ["no_budget", "bad_timing"], "Q4 maybe")
    event = Event.objects.get(kind="lead.rated")
    assert event.subject_id == person.pk and event.data == {
        "rating_id": row.pk,
        "rating": 2,
        "reasons": ["no_budget", "bad_timing"],
    }


@pytest.mark.parametrize(
    ("rating", "reasons", "field"),
    [
        (0, [], "rating"),
        (6, [], "rating"),
        (True, [], "rating"),
        ("3", [], "rating"),
        (3, ["nice_hat"], "reasons"),
        (3, "no_budget", "reasons"),
    ],
)
def test_a_bad_rating_is_refused(rating, reasons, field):
    # given a person
    person = PersonFactory()
    # when a bad rating is recorded
    with pytest.raises(ValidationFailed) as exc:
        lead_rating_record(person=person, rating=rating, reasons=reasons)
    # then the field is named and nothing is stored
    assert exc.value.field == field and LeadRating.objects.count() == 0


# ---- themes ----


def test_mining_stores_themes_assigns_every_question_and_new_ones_join_on_save():
    # given 60 questions on pricing, integrations and security
    truth = _seed_questions()
    # when themes are mined
    result = themes_mine(k=3)
    # then three themes are stored with counts that add up, readable labels and examples
    themes = list(Theme.objects.filter(retired_at__isnull=True))
    assert len(themes) == 3 and len(result.created) == 3
    assert sorted(t.question_count for t in themes) == sorted(
        Question.objects.filter(theme=t).count() for t in themes
    )
    assert sum(t.question_count for t in themes) == result.assigned == 60
    for t in themes:
        assert " · " in t.label and len(t.examples) == 3 and len(t.centroid) > 0
    pricing = _majority_theme(truth, "pricing")
    # when a rep records a new pricing question
    q = question_record(person=PersonFactory(), text="Is there a discount on the price for 40 seats?")
    # then it joins the pricing theme and its count goes up
    assert q.theme_id == pricing.pk
    assert Theme.objects.get(pk=pricing.pk).question_count == pricing.question_count + 1


def test_renamed_themes_keep_name_and_id_through_re_mining_and_new_questions_join_them():
    # given mined themes, the pricing one renamed
    truth = _seed_questions()
    themes_mine(k=3)
    pricing = _majority_theme(truth, "pricing")
    label = pricing.label
    theme_rename(theme=pricing, label="Pricing objections")
    # when more questions arrive and themes are mined again
    new = [
        QuestionFactory(text=text).pk
        for text in (
            "What would the price be for 75 users?",
            "Is there a discount on the price if we pay annual?",
            "Is there a cheaper price plan for a team of 10?",
        )
    ]
    result = themes_mine(k=3)
    # then the named theme is the same row, with its name, and holds the new pricing questions too
    pricing.refresh_from_db()
    assert pricing.label == "Pricing objections" and pricing.retired_at is None and pricing.renamed
    assert result.kept == [pricing.pk]
    assert Theme.objects.filter(retired_at__isnull=True).count() == 3
    assert set(Question.objects.filter(pk__in=new).values_list("theme_id", flat=True)) == {pricing.pk}
    assert Event.objects.get(kind="theme.renamed", subject_id=pricing.pk).data == {
        "from": label,
        "to": "Pricing objections",
    }


def test_re_mining_the_same_questions_keeps_every_theme_id():
    # given mined themes
    _seed_questions()
    themes_mine(k=3)
    before = set(Theme.objects.filter(retired_at__isnull=True).values_list("pk", flat=True))
    # when the same questions are mined again
    result = themes_mine(k=3)
    # then the same three themes are updated, none created or retired
    assert set(result.updated) == before and result.created == [] and result.retired == []
    assert ThemeSpace.objects.count() == 2


def test_merge_moves_questions_and_split_gives_them_back():
    # given mined themes of pricing and security
    truth = _seed_questions(("pricing", "security"))
    themes_mine(k=2)
    pricing, security = _majority_theme(truth, "pricing"), _majority_theme(truth, "security")
    n_pricing, n_security = pricing.question_count, security.question_count
    # when security is merged into pricing
    merged = themes_merge(theme=security, into=pricing)
    # then pricing holds all 40 questions and security is retired, pointing at pricing
    security.refresh_from_db()
    assert merged.pk == pricing.pk and merged.question_count == n_pricing + n_security == 40
    assert security.retired_at is not None and security.merged_into_id == pricing.pk
    assert Question.objects.filter(theme=security).count() == 0
    # when the merged theme is split in two
    parts = theme_split(theme=merged, k=2)
    # then the two parts are the two original groups again
    groups = [set(Question.objects.filter(theme=p).values_list("pk", flat=True)) for p in parts]
    assert sorted(len(g) for g in groups) == sorted([n_pricing, n_security])
    for g in groups:
        assert len({truth[q] for q in g}) == 1
    merged.refresh_from_db()
    assert merged.retired_at is not None and all(p.split_from_id == merged.pk and p.curated for p in parts)
    assert {e.kind for e in Event.objects.filter(kind__startswith="theme.")} >= {
        "theme.merged",
        "theme.split",
        "theme.created",
    }


def test_a_retired_theme_cannot_be_renamed_and_nothing_changes():
    # given a theme merged away
    truth = _seed_questions(("pricing", "security"))
    themes_mine(k=2)
    pricing, security = _majority_theme(truth, "pricing"), _majority_theme(truth, "security")
    themes_merge(theme=security, into=pricing)
    security.refresh_from_db()
    label = security.label
    # when it is renamed
    with pytest.raises(NotAllowed) as exc:
        theme_rename(theme=security, label="Security")
    # then it is refused and its label is unchanged
    assert exc.value.field == "theme_id"
    security.refresh_from_db()
    assert security.label == label and not security.renamed


def test_a_duplicate_theme_label_is_refused():
    # given two themes, one named
    truth = _seed_questions(("pricing", "security"))
    themes_mine(k=2)
    pricing, security = _majority_theme(truth, "pricing"), _majority_theme(truth, "security")
    theme_rename(theme=pricing, label="Money")
    # when the other is given the same name in another case
    with pytest.raises(ValidationFailed) as exc:
        theme_rename(theme=security, label="MONEY")
    # then it is refused and keeps its label
    assert exc.value.field == "label"
    assert Theme.objects.get(pk=security.pk).label == security.label


def test_unthemed_questions_are_assigned_by_the_periodic_catch_up():
    # given mined themes and questions imported afterwards without a theme
    truth = _seed_questions(("pricing", "security"))
    themes_mine(k=2)
    security = _majority_theme(truth, "security")
    late = QuestionFactory(text="Do you have SOC 2 Type II and a security questionnaire we can review?")
    # when the catch-up runs
    assigned = questions_assign_unthemed()
    # then the late question is in the security theme
    late.refresh_from_db()
    assert assigned == 1 and late.theme_id == security.pk


def test_mining_with_too_few_questions_is_refused():
    # given two questions
    QuestionFactory()
    QuestionFactory()
    # when themes are mined
    with pytest.raises(ValidationFailed) as exc:
        themes_mine()
    # then it is refused and nothing is stored
    assert exc.value.field == "questions" and Theme.objects.count() == 0 and ThemeSpace.objects.count() == 0


def test_content_linked_to_a_theme_follows_its_questions_on_merge_and_split():
    # given an asset answering the security theme
    from tests.enablement.factories import AssetFactory

    truth = _seed_questions(("pricing", "security"))
    themes_mine(k=2)
    pricing, security = _majority_theme(truth, "pricing"), _majority_theme(truth, "security")
    asset = AssetFactory()
    asset.themes.add(security)
    # when security is merged into pricing, and pricing is then split
    merged = themes_merge(theme=security, into=pricing)
    assert set(asset.themes.values_list("pk", flat=True)) == {security.pk, pricing.pk}
    parts = theme_split(theme=merged, k=2)
    # then the asset answers every live theme its questions went to
    live = set(asset.themes.filter(retired_at__isnull=True).values_list("pk", flat=True))
    assert live == {p.pk for p in parts}


def test_merging_people_keeps_the_duplicates_lead_ratings():
    # given a duplicate person with a rating
    from tandem.crm.services import person_merge

    survivor, duplicate = PersonFactory(), PersonFactory()
    lead_rating_record(person=duplicate, rating=4, reasons=["good_fit"])
    # when the duplicate is merged into the survivor
    person_merge(survivor=survivor, duplicate=duplicate)
    # then the rating now belongs to the survivor
    assert list(LeadRating.objects.values_list("person_id", "rating")) == [(survivor.pk, 4)]


def test_questions_are_credited_in_bulk_to_the_rep_who_heard_them():
    # given questions from two people and a third person's question
    from tandem.feedback.services import questions_heard_by_set_bulk
    from tests.feedback.factories import QuestionFactory
    from tests.users.factories import UserFactory

    mine, also_mine, other = QuestionFactory(), QuestionFactory(), QuestionFactory(heard_by=None)
    rep = UserFactory()
    # when the first two people's questions are credited to the rep
    changed = questions_heard_by_set_bulk(person_ids=[mine.person_id, also_mine.person_id], heard_by=rep)
    # then exactly those two name the rep
    assert changed == 2
    assert dict(Question.objects.values_list("pk", "heard_by_id")) == {
        mine.pk: rep.pk,
        also_mine.pk: rep.pk,
        other.pk: None,
    }
