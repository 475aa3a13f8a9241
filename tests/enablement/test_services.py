"""Enablement services: sends and uses with their touchpoints and events; refusals that change nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tandem.campaigns.models import Touchpoint
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tandem.crm.models import Activity
from tandem.enablement import files
from tandem.enablement.models import Asset, ContentUse, Persona, Product
from tandem.enablement.services import (
    asset_create,
    asset_send,
    asset_update,
    assets_expiry_notify,
    content_use_rate,
    content_use_record,
    persona_create,
    persona_update,
    product_update,
)
from tests.crm.factories import DealFactory, PersonFactory
from tests.enablement.factories import AssetFactory, PersonaFactory, ProductFactory, ThemeFactory
from tests.users.factories import UserFactory

PDF = files.sample_pdf("Brochure", ["line"])
AT = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


def _counts() -> tuple[int, int, int]:
    return ContentUse.objects.count(), Touchpoint.objects.filter(kind="content_sent").count(), Event.objects.filter(kind__startswith="enablement.").count()


@pytest.mark.django_db
def test_sending_records_a_touchpoint_a_use_and_an_event_without_moving_the_persons_source():
    # given a rep, a person from paid search and an asset
    rep = UserFactory()
    person = PersonFactory(original_channel="paid_search")
    latest = (person.latest_channel, person.latest_campaign_id)
    asset = AssetFactory(title="Case study", url="https://example.com/cs")
    # when the rep sends it
    use = asset_send(asset=asset, person=person, by_user=rep, note="as promised", at=AT)
    # then the touchpoint, the use and the event say so
    touch = Touchpoint.objects.get(person=person, kind="content_sent")
    assert (touch.channel, touch.occurred_at, touch.url) == ("outbound", AT, "https://example.com/cs")
    assert (use.how, use.used_at, use.note, use.used_by_id) == ("sent", AT, "as promised", rep.pk)
    event = Event.objects.get(kind="enablement.asset_sent")
    assert (event.subject_id, event.actor_id, event.data["asset_id"], event.data["touchpoint_id"]) == (person.pk, rep.pk, asset.pk, touch.pk)
    # and the person's latest source is not a rep's email
    person.refresh_from_db()
    assert (person.latest_channel, person.latest_campaign_id) == latest


@pytest.mark.django_db
def test_an_expired_asset_cannot_be_sent_and_nothing_is_written():
    # given an asset that expired yesterday
    person = PersonFactory()
    asset = AssetFactory(expires_on=timezone.localdate() - dt.timedelta(days=1))
    before = _counts()
    # when it is sent / then it is refused and nothing changed
    with pytest.raises(NotAllowed) as caught:
        asset_send(asset=asset, person=person)
    assert caught.value.field == "asset_id"
    assert _counts() == before


@pytest.mark.django_db
def test_a_deal_of_someone_else_is_refused_and_nothing_is_written():
    # given two people and the second one's deal
    person, other = PersonFactory(), PersonFactory()
    deal = DealFactory(person=other)
    asset = AssetFactory()
    before = _counts()
    # when content is sent or recorded on the wrong deal / then refused naming the deal
    for call in (
        lambda: asset_send(asset=asset, person=person, deal=deal),
        lambda: content_use_record(asset=asset, person=person, deal=deal),
    ):
        with pytest.raises(ValidationFailed) as caught:
            call()
        assert (caught.value.field, caught.value.value) == ("deal_id", deal.pk)
    assert _counts() == before


@pytest.mark.django_db
def test_a_use_on_a_call_takes_the_calls_time_and_deal_and_can_be_rated_later():
    # given a call on a deal
    rep = UserFactory()
    deal = DealFactory()
    call = Activity.objects.create(person=deal.person, deal=deal, user=rep, kind_id="call", occurred_at=AT)
    asset = AssetFactory()
    # when the rep records the asset on the call, then says it helped
    use = content_use_record(asset=asset, person=deal.person, activity=call, by_user=rep)
    content_use_rate(use=use, helped=True, by_user=rep)
    # then the use carries the call's deal and time, and both steps left events
    use.refresh_from_db()
    assert (use.deal_id, use.activity_id, use.used_at, use.how, use.helped) == (deal.pk, call.pk, AT, "used", True)
    kinds = list(Event.objects.filter(kind__startswith="enablement.").order_by("id").values_list("kind", flat=True))
    assert kinds == ["enablement.content_used", "enablement.content_use_rated"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "value"),
    [
        ({"url": "javascript:alert(1)"}, "url", "javascript:alert(1)"),
        ({"url": "ftp://example.com/x"}, "url", "ftp://example.com/x"),
        ({"kind": "flyer"}, "kind", "flyer"),
        ({"stage": "hot"}, "stage", "hot"),
        ({"expires_on": "next week"}, "expires_on", "next week"),
        ({"persona_id": 999999}, "persona_id", 999999),
        ({"theme_ids": [999999]}, "theme_ids", 999999),
        ({"title": "  "}, "title", "  "),
    ],
)
def test_bad_asset_fields_are_refused_naming_the_field_and_nothing_is_written(fields, field, value):
    # given a valid link asset's fields with one bad value
    data = {"title": "Deck", "kind": "deck", "url": "https://example.com/deck"} | fields
    # when it is created / then refused naming the field, and no asset exists
    with pytest.raises(ValidationFailed) as caught:
        asset_create(**data)
    assert (caught.value.field, caught.value.value) == (field, value)
    assert Asset.objects.count() == 0


@pytest.mark.django_db
def test_an_asset_is_a_link_or_a_file_never_both_nor_neither():
    upload = SimpleUploadedFile("b.pdf", PDF)
    for kwargs in ({"url": "https://example.com/x", "upload": upload}, {}):
        with pytest.raises(ValidationFailed) as caught:
            asset_create(title="X", kind="deck", **kwargs)  # type: ignore[arg-type]
        assert caught.value.field == "url"
    assert Asset.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_replacing_a_file_removes_the_old_one_after_commit_and_a_file_can_become_a_link(settings):
    # given a file asset tagged with a theme
    media = Path(settings.MEDIA_ROOT)
    theme = ThemeFactory(label="pricing")
    asset = asset_create(title="Brochure", kind="brochure", upload=SimpleUploadedFile("b.pdf", PDF), theme_ids=[theme.pk])
    first = asset.file
    # when the file is replaced
    asset_update(asset=asset, upload=SimpleUploadedFile("b2.pdf", PDF + b"%2"))
    # then only the new file is on disk
    assert asset.file != first and asset.original_name == "b2.pdf"
    assert [p.name for p in media.rglob("*.pdf")] == [Path(asset.file).name]
    # when it becomes a link
    asset_update(asset=asset, url="https://example.com/brochure")
    # then no file is left, and the theme was kept
    asset.refresh_from_db()
    assert (asset.file, asset.url, asset.size_bytes) == ("", "https://example.com/brochure", 0)
    assert list(media.rglob("*.pdf")) == []
    assert list(asset.themes.values_list("label", flat=True)) == ["pricing"]


@pytest.mark.django_db
def test_persona_names_are_unique_ignoring_case_and_updates_leave_an_event():
    # given a persona and a product
    product = ProductFactory()
    persona = persona_create(name="RevOps", rules={"any": [{"type": "title_keywords", "keywords": ["RevOps"]}]})
    # when a second one with the same name in other case is added / then refused, one persona remains
    with pytest.raises(ValidationFailed) as caught:
        persona_create(name="revops")
    assert (caught.value.field, caught.value.value) == ("name", "revops")
    assert Persona.objects.count() == 1
    # when its priority and products change
    persona_update(persona=persona, priority=5, product_ids=[product.pk])
    # then the event lists both changes
    event = Event.objects.get(kind="enablement.persona_updated")
    assert event.data["changed"] == {"priority": [100, 5], "product_ids": [[], [product.pk]]}


@pytest.mark.django_db
def test_a_bad_persona_update_changes_nothing():
    # given a persona
    persona = PersonaFactory(priority=7)
    rules = persona.rules
    # when an update carries a good priority and bad rules / then refused and nothing changed
    with pytest.raises(ValidationFailed):
        persona_update(persona=persona, priority=1, rules={"all": [{"type": "touchpoint", "days": 3}]})
    persona.refresh_from_db()
    assert (persona.priority, persona.rules) == (7, rules)


@pytest.mark.django_db
def test_product_updates_record_what_changed():
    product = ProductFactory(name="Router")
    product_update(product=product, name="Lead Router")
    assert Product.objects.get().name == "Lead Router"
    assert Event.objects.get(kind="enablement.product_updated").data == {"changed": {"name": ["Router", "Lead Router"]}}


@pytest.mark.django_db(transaction=True)
def test_owners_are_told_once_when_their_assets_expire_and_again_after_a_new_date_passes(mailoutbox):
    # given two expired assets of one owner, one of another owner without email, and a current one
    mia = UserFactory(username="mia", email="mia@example.com")
    today = dt.date(2026, 5, 10)
    old = AssetFactory(title="Old price list", owner=mia, expires_on=dt.date(2026, 5, 9))
    AssetFactory(title="Old deck", owner=mia, expires_on=dt.date(2026, 4, 1))
    AssetFactory(title="Other's", owner=UserFactory(email=""), expires_on=dt.date(2026, 5, 1))
    AssetFactory(title="Current", owner=mia, expires_on=dt.date(2026, 6, 30))
    # when the sweep runs twice
    first = assets_expiry_notify(today=today)
    second = assets_expiry_notify(today=today)
    # then three assets are flagged once, with an event each, and Mia gets one email listing her two
    assert (first, second) == (3, 0)
    assert Event.objects.filter(kind="enablement.asset_expired").count() == 3
    assert [(m.to, m.subject) for m in mailoutbox] == [(["mia@example.com"], "2 of your assets expired")]
    assert "Old price list (expired after 2026-05-09)" in mailoutbox[0].body
    # when the price list gets a new date that passes too / then she is told again about it alone
    asset_update(asset=Asset.objects.get(pk=old.pk), expires_on="2026-05-20")
    assert assets_expiry_notify(today=dt.date(2026, 5, 21)) == 1
    assert mailoutbox[-1].subject == "Expired: Old price list"
