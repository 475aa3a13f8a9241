"""The enablement API: assets (links and uploads), sends and uses, usage, gaps, personas, products, permissions."""

from __future__ import annotations

import io

import pytest
from django.test import Client, override_settings

from tandem.campaigns.models import Touchpoint
from tandem.core.models import Event
from tandem.enablement.models import Asset, ContentUse, Persona
from tandem.users.models import Role
from tests.crm.factories import DealFactory, PersonFactory
from tests.enablement.factories import AssetFactory, ProductFactory
from tests.users.factories import UserFactory


def _client(role: str) -> tuple[Client, object]:
    user = UserFactory(role=role)
    client = Client()
    client.force_login(user)
    return client, user


@pytest.mark.django_db
def test_marketing_adds_a_link_asset_and_a_rep_finds_it_by_search():
    # given a marketer and a rep
    marketing, _ = _client(Role.MARKETING)
    rep, _ = _client(Role.SALES_REP)
    product = ProductFactory()
    # when marketing adds a link asset
    created = marketing.post(
        "/api/enablement/assets",
        {"title": "Pricing battle card", "kind": "battle_card", "url": "https://example.com/card", "product_id": product.pk},
        content_type="application/json",
    )
    # then it is stored and a rep finds it by a word of its title
    assert created.status_code == 201
    found = rep.get("/api/enablement/assets", {"q": "battle"}).json()["items"]
    assert [a["title"] for a in found] == ["Pricing battle card"]
    assert found[0]["product_id"] == product.pk and found[0]["is_file"] is False


@pytest.mark.django_db
def test_a_rep_cannot_add_assets_and_nothing_is_written():
    # given a rep
    rep, _ = _client(Role.SALES_REP)
    # when the rep tries to add an asset
    response = rep.post(
        "/api/enablement/assets", {"title": "Mine", "kind": "deck", "url": "https://example.com/x"}, content_type="application/json"
    )
    # then it is refused and no asset exists
    assert response.status_code == 403
    assert Asset.objects.count() == 0


@pytest.mark.django_db
@override_settings(ENABLEMENT_MAX_UPLOAD_BYTES=1000)
def test_the_upload_endpoint_refuses_a_wrong_type_with_a_422_naming_the_file(tmp_path, settings):
    # given a marketer and a fake PDF
    settings.MEDIA_ROOT = tmp_path
    marketing, _ = _client(Role.MARKETING)
    fake = io.BytesIO(b"MZ\x90\x00 this is an executable")
    fake.name = "brochure.pdf"
    # when it is uploaded
    response = marketing.post("/api/enablement/assets/upload", {"file": fake, "title": "Brochure", "kind": "brochure"})
    # then it is refused, naming the problem, and nothing is stored
    assert response.status_code == 422
    assert response.json()["detail"] == "The file 'brochure.pdf' is not a PDF document: its content does not match its .pdf extension."
    assert Asset.objects.count() == 0
    assert list(tmp_path.rglob("*.*")) == []


@pytest.mark.django_db
def test_a_rep_sends_an_asset_through_the_api_and_the_person_gets_a_touchpoint():
    # given a rep, a person with an open deal and an asset
    rep, user = _client(Role.SALES_REP)
    person = PersonFactory(owner=user)
    deal = DealFactory(person=person, owner=user)
    asset = AssetFactory(title="ROI calculator")
    # when the rep sends it
    response = rep.post(f"/api/enablement/assets/{asset.pk}/send", {"person_id": person.pk, "deal_id": deal.pk, "note": "after the call"}, content_type="application/json")
    # then a use, a content_sent touchpoint and an event exist
    assert response.status_code == 201
    use = ContentUse.objects.get()
    assert (use.how, use.deal_id, use.used_by_id) == ("sent", deal.pk, user.pk)  # type: ignore[attr-defined]
    touch = Touchpoint.objects.get(person=person, kind="content_sent")
    assert touch.custom_fields == {"asset_id": asset.pk, "asset_title": "ROI calculator"}
    assert Event.objects.filter(kind="enablement.asset_sent", subject_id=person.pk).count() == 1


@pytest.mark.django_db
def test_a_viewer_cannot_send_content():
    # given a viewer
    viewer, _ = _client(Role.VIEWER)
    person = PersonFactory()
    asset = AssetFactory()
    # when the viewer tries to send
    response = viewer.post(f"/api/enablement/assets/{asset.pk}/send", {"person_id": person.pk}, content_type="application/json")
    # then it is refused and nothing is recorded
    assert response.status_code == 403
    assert ContentUse.objects.count() == 0 and Touchpoint.objects.filter(kind="content_sent").count() == 0


@pytest.mark.django_db
def test_marketing_creates_a_persona_with_rules_and_the_person_endpoint_matches_it():
    # given a marketer and a RevOps person
    marketing, _ = _client(Role.MARKETING)
    person = PersonFactory(job_title="Head of RevOps")
    # when marketing adds a persona with a title rule and an objection
    created = marketing.post(
        "/api/enablement/personas",
        {"name": "RevOps", "rules": {"any": [{"type": "title_keywords", "keywords": ["RevOps"]}]}, "pains": ["Messy data"]},
        content_type="application/json",
    )
    persona_id = created.json()["id"]
    marketing.post(f"/api/enablement/personas/{persona_id}/objections", {"objection": "Too pricey", "answer": "It pays back in a quarter"}, content_type="application/json")
    AssetFactory(title="RevOps deck", persona=Persona.objects.get(pk=persona_id))
    # then the person's enablement shows the persona, why, its talking points and the asset
    body = marketing.get(f"/api/people/{person.pk}/enablement").json()
    assert body["persona"]["name"] == "RevOps"
    assert body["matched_because"] == ["Job title contains 'RevOps'"]
    assert body["persona"]["pains"] == ["Messy data"]
    assert body["persona"]["objections"][0]["answer"] == "It pays back in a quarter"
    assert [s["asset"]["title"] for s in body["suggestions"]] == ["RevOps deck"]


@pytest.mark.django_db
def test_a_persona_rule_on_touchpoints_is_refused_with_the_field_named():
    # given a marketer
    marketing, _ = _client(Role.MARKETING)
    # when a persona's rules use a behaviour criterion
    response = marketing.post(
        "/api/enablement/personas",
        {"name": "Clickers", "rules": {"all": [{"type": "touchpoint", "days": 30, "kinds": ["email_click"]}]}},
        content_type="application/json",
    )
    # then it is refused naming the type, and no persona exists
    assert response.status_code == 422
    assert response.json() == {"detail": "Persona rules look at profile fields only (not touchpoints).", "field": "type", "value": "touchpoint"}
    assert Persona.objects.count() == 0


@pytest.mark.django_db
def test_products_are_listed_and_patched_through_the_api():
    # given a marketer and a product
    marketing, _ = _client(Role.MARKETING)
    product = ProductFactory(name="Router")
    # when it is renamed and given possibilities
    response = marketing.patch(f"/api/enablement/products/{product.pk}", {"name": "Lead Router", "possibilities": ["Route in seconds", "Balance load"]}, content_type="application/json")
    # then the list shows the change
    assert response.status_code == 200
    assert marketing.get("/api/enablement/products").json() == [
        {"id": product.pk, "name": "Lead Router", "summary": product.summary, "possibilities": ["Route in seconds", "Balance load"]}
    ]


@pytest.mark.django_db
def test_an_uploaded_file_is_downloaded_through_the_api_and_patched_fields_change_alone(settings):
    # given a marketer who uploads a CSV battle card
    marketing, _ = _client(Role.MARKETING)
    card = io.BytesIO(b"They say,We say\nToo pricey,Compare the total cost\n")
    card.name = "card.csv"
    created = marketing.post("/api/enablement/assets/upload", {"file": card, "title": "Card", "kind": "battle_card"}).json()
    # when a rep downloads it, and marketing changes only its expiry
    rep, _ = _client(Role.SALES_REP)
    download = rep.get(created["download_url"])
    patched = marketing.patch(f"/api/enablement/assets/{created['id']}", {"expires_on": "2030-01-31"}, content_type="application/json").json()
    # then the bytes come back as an attachment, and only the expiry changed
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"They say")  # type: ignore[attr-defined]
    assert download["Content-Disposition"] == 'attachment; filename="card.csv"'
    assert (patched["expires_on"], patched["title"], patched["original_name"], patched["size_bytes"]) == ("2030-01-31", "Card", "card.csv", created["size_bytes"])
