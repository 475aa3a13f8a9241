"""`tandem report content-gaps|content-usage` and `tandem enablement expired|upload`."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tandem.enablement.files import sample_pdf
from tandem.enablement.models import Asset
from tests.crm.factories import DealFactory, PersonFactory
from tests.enablement.factories import AssetFactory, ContentUseFactory, ThemeFactory
from tests.feedback.factories import QuestionFactory
from tests.users.factories import UserFactory

CLOSED = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_content_gaps_json_ranks_unanswered_themes_by_lost_deals():
    # given an answered theme, and two unanswered ones: one asked by a person with a lost deal
    answered, lost_theme, quiet = ThemeFactory(label="pricing"), ThemeFactory(label="security"), ThemeFactory(label="support")
    AssetFactory().themes.set([answered])
    loser = PersonFactory()
    DealFactory(person=loser, stage="lost", closed_at=CLOSED)
    for theme, person in ((lost_theme, loser), (lost_theme, loser), (lost_theme, PersonFactory()), (quiet, PersonFactory()), (quiet, PersonFactory()), (quiet, PersonFactory()), (answered, loser)):
        QuestionFactory(theme=theme, person=person, text=f"about {theme.label}")
    # when the report runs
    body = json.loads(_run("report", "content-gaps", "--format", "json"))
    # then the two gaps come back, the one with the lost deal first, with exact counts
    assert [(g["label"], g["questions"], g["people"], g["lost_deals"], g["closed_deals"], g["lost_share"]) for g in body["gaps"]] == [
        ("security", 3, 2, 1, 1, 1.0),
        ("support", 3, 3, 0, 0, None),
    ]
    assert body["gaps"][1]["lost_low"] == 0.0 and body["gaps"][1]["lost_high"] == 1.0


@pytest.mark.django_db
def test_content_usage_json_gives_each_assets_win_rate_and_the_baseline():
    # given an asset used on one won and one lost deal, and one more lost deal without content
    asset = AssetFactory(title="ROI deck")
    for stage in ("won", "lost"):
        deal = DealFactory(stage=stage, closed_at=CLOSED)
        ContentUseFactory(asset=asset, person=deal.person, deal=deal)
    DealFactory(stage="lost", closed_at=CLOSED)
    # when / then
    body = json.loads(_run("report", "content-usage", "--format", "json"))
    row = body["assets"][0]
    assert (row["title"], row["uses"], row["won"], row["lost"], row["closed"], row["win_rate"]) == ("ROI deck", 2, 1, 1, 2, 0.5)
    assert (body["baseline"]["won"], body["baseline"]["lost"]) == (1, 2)


@pytest.mark.django_db
def test_enablement_expired_lists_assets_past_their_date_with_owners():
    # given an expired asset, one expiring in a week and one without a date
    owner = UserFactory(username="mia")
    today = timezone.localdate()
    AssetFactory(title="Old", owner=owner, expires_on=today - dt.timedelta(days=1))
    AssetFactory(title="Soon", expires_on=today + dt.timedelta(days=7))
    AssetFactory(title="Forever")
    # when / then only the expired one, or both with --within 10
    assert [(a["title"], a["owner"], a["expired"]) for a in json.loads(_run("enablement", "expired"))["assets"]] == [("Old", "mia", True)]
    assert [a["title"] for a in json.loads(_run("enablement", "expired", "--within", "10"))["assets"]] == ["Old", "Soon"]


@pytest.mark.django_db
def test_enablement_upload_adds_a_checked_file_and_refuses_a_fake(tmp_path, settings):
    # given a real PDF and an executable named .pdf
    good, fake = tmp_path / "case.pdf", tmp_path / "fake.pdf"
    good.write_bytes(sample_pdf("Case", ["x"]))
    fake.write_bytes(b"MZ\x90\x00")
    # when both are uploaded
    out = _run("enablement", "upload", str(good), "--title", "Case", "--kind", "case_study")
    with pytest.raises(CommandError) as caught:
        _run("enablement", "upload", str(fake), "--title", "Fake", "--kind", "brochure")
    # then only the good one is in the library and the fake is refused with the reason
    assert out.startswith("added asset ")
    assert str(caught.value) == "The file 'fake.pdf' is not a PDF document: its content does not match its .pdf extension."
    assert list(Asset.objects.values_list("title", flat=True)) == ["Case"]
    assert len([p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]) == 1
