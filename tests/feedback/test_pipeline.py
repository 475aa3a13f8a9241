"""Theme mining through the stored pipeline: demo questions imported from a bundle, mined, read back from the rows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from sklearn.metrics import adjusted_rand_score

from tandem.capture.services import bundle_import
from tandem.demo.company import generate_company, write_bundle
from tandem.feedback.models import LeadRating, Question, RatingReason, Theme
from tandem.feedback.services import questions_assign_unthemed, themes_mine

pytestmark = pytest.mark.django_db


def test_mined_themes_recover_the_demo_themes_with_readable_labels(tmp_path: Path):
    # given the demo company's questions imported through a bundle (the true theme lands in custom_fields)
    company = generate_company(people=11000, seed=7, end=dt.date(2026, 6, 1))
    asking = {q.email for q in company.questions}
    small = dataclasses.replace(company, people=[p for p in company.people if p.email in asking])
    write_bundle(small, tmp_path, files=["people.csv", "questions.csv"])
    bundle_import(directory=tmp_path)
    # when themes are mined and stored
    result = themes_mine()
    # then the stored assignment agrees with the generator's themes (ARI >= 0.7) and every question is themed
    rows = list(Question.objects.order_by("id").values_list("custom_fields", "theme_id"))
    truth = [r[0]["theme"] for r in rows]
    found = [r[1] if r[1] is not None else -1 for r in rows]
    assert len(rows) == len(company.questions) == result.questions
    assert adjusted_rand_score(truth, found) >= 0.7
    # and labels are distinct, short, and made of real words
    labels = list(Theme.objects.filter(retired_at__isnull=True).values_list("label", flat=True))
    assert 8 <= len(labels) <= 14 and len({lbl.casefold() for lbl in labels}) == len(labels)
    for label in labels:
        words = label.split(" · ")
        assert len(label) <= 60 and len(words) >= 3
        assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9'-]+", w) for w in words), label


def test_new_demo_questions_join_the_themes_marketing_named(tmp_path: Path):
    # given the themes of a small demo company, the largest one named by marketing
    company = generate_company(people=3000, seed=3, end=dt.date(2026, 6, 1))
    asking = {q.email for q in company.questions}
    small = dataclasses.replace(company, people=[p for p in company.people if p.email in asking])
    write_bundle(small, tmp_path, files=["people.csv", "questions.csv"])
    bundle_import(directory=tmp_path)
    themes_mine()
    biggest = Theme.objects.filter(retired_at__isnull=True).order_by("-question_count").first()
    from tandem.feedback.services import theme_rename

    theme_rename(theme=biggest, label="Our named theme")
    # when the same questions arrive again without themes (a re-import) and the sweep runs
    again = list(Question.objects.filter(theme=biggest).values_list("person_id", "asked_at", "text")[:5])
    for person_id, asked_at, text in again:
        Question.objects.create(person_id=person_id, asked_at=asked_at, text=text)
    swept = questions_assign_unthemed()
    # then they join the named theme, whose name is untouched
    assert swept == 5
    assert Question.objects.filter(theme=biggest).count() == biggest.question_count + 5
    biggest.refresh_from_db()
    assert biggest.label == "Our named theme"


def test_the_demo_mines_themes_and_rates_leads(settings):
    # given fast password hashing for the demo users
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # when a small demo company is loaded
    call_command("demo", "--people", "400", "--end", "2026-06-30", "--no-serve", stdout=io.StringIO())
    # then every question is in a theme and reps' leads carry valid ratings
    assert Question.objects.count() > 0 and not Question.objects.filter(theme__isnull=True).exists()
    assert Theme.objects.filter(retired_at__isnull=True).count() >= 2
    ratings = list(LeadRating.objects.all())
    assert ratings and all(1 <= r.rating <= 5 and set(r.reasons) <= set(RatingReason.values) for r in ratings)
    assert all(r.rated_by_id is not None for r in ratings)
