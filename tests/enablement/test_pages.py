"""Enablement pages: who sees what, searches and filters, forms that refuse bad input, pinned query counts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from tandem.enablement.files import sample_pdf
from tandem.enablement.models import Asset, ContentUse
from tandem.enablement.services import asset_create
from tandem.users.models import Role
from tests.crm.factories import DealFactory, PersonFactory
from tests.enablement.factories import (
    AssetFactory,
    ContentUseFactory,
    ObjectionFactory,
    PersonaFactory,
    ProductFactory,
    ThemeFactory,
)
from tests.feedback.factories import QuestionFactory
from tests.users.factories import UserFactory

PDF = sample_pdf("Résumé", ["line"])


def _client(role: str = Role.SALES_REP) -> tuple[Client, object]:
    user = UserFactory(role=role)
    client = Client()
    client.force_login(user)
    return client, user


@pytest.mark.django_db
def test_every_enablement_page_renders_for_marketing():
    # given a persona with an objection, a product, an asset and a person
    client, _ = _client(Role.MARKETING)
    persona = PersonaFactory(name="RevOps lead")
    ObjectionFactory(persona=persona)
    ProductFactory(name="Router")
    asset = AssetFactory(title="Routing case study", persona=persona)
    person = PersonFactory(job_title="RevOps Manager")
    # when each page is fetched
    urls = [
        "/enablement/", f"/enablement/assets/{asset.pk}/", "/enablement/usage/", "/enablement/gaps/",
        "/enablement/personas/", f"/enablement/personas/{persona.pk}/", "/enablement/products/",
        f"/enablement/people/{person.pk}/panel/",
    ]
    # then each answers 200
    assert [client.get(u).status_code for u in urls] == [200] * len(urls)


def _library_with_usage(n: int) -> None:
    persona = PersonaFactory()
    theme = ThemeFactory()
    for i in range(n):
        asset = AssetFactory(persona=persona)
        asset.themes.set([theme])
        person = PersonFactory()
        deal = DealFactory(person=person, stage="won", closed_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC)) if i % 2 else None
        ContentUseFactory(asset=asset, person=person, deal=deal)


@pytest.mark.django_db
@pytest.mark.parametrize("n", [2, 8])
def test_the_library_page_costs_the_same_queries_for_few_or_many_assets(n, django_assert_num_queries):
    # given n assets with uses and deals
    client, _ = _client(Role.SALES_REP)
    _library_with_usage(n)
    # when the library is shown / then the query count does not grow with n
    with django_assert_num_queries(16):
        response = client.get("/enablement/")
    assert response.status_code == 200
    assert response.content.decode().count('href="/enablement/assets/') == n


@pytest.mark.django_db
def test_the_usage_and_gaps_pages_have_pinned_query_counts(django_assert_num_queries):
    # given assets with uses, and an unanswered theme heard three times
    client, _ = _client(Role.MARKETING)
    _library_with_usage(5)
    gap = ThemeFactory(label="migration")
    for _ in range(3):
        QuestionFactory(theme=gap)
    # when / then
    with django_assert_num_queries(8):
        assert client.get("/enablement/usage/").status_code == 200
    with django_assert_num_queries(9):
        page = client.get("/enablement/gaps/").content.decode()
    assert "migration" in page


@pytest.mark.django_db
def test_reps_do_not_see_expired_assets_but_their_owner_is_told():
    # given an expired asset owned by a marketer
    marketer_client, marketer = _client(Role.MARKETING)
    rep, _ = _client(Role.SALES_REP)
    asset = AssetFactory(title="Old price list", owner=marketer, expires_on=timezone.localdate() - dt.timedelta(days=3))
    AssetFactory(title="Fresh deck")
    # when the rep searches the library and opens the asset
    page = rep.get("/enablement/").content.decode()
    detail = rep.get(f"/enablement/assets/{asset.pk}/")
    # then it is hidden and not found
    assert "Fresh deck" in page and "Old price list" not in page
    assert detail.status_code == 404
    # and its owner sees it flagged
    owner_page = marketer_client.get("/enablement/").content.decode()
    assert 'data-testid="expiry-flags"' in owner_page and "Old price list" in owner_page


@pytest.mark.django_db
def test_a_wrong_upload_on_the_library_page_is_refused_with_the_message_and_nothing_stored(settings):
    # given a marketer and an executable named like a deck
    client, _ = _client(Role.MARKETING)
    upload = SimpleUploadedFile("deck.pptx", b"MZ\x90\x00 definitely not a deck")
    # when it is uploaded through the page
    response = client.post("/enablement/assets/new/", {"title": "Deck", "kind": "deck", "file": upload})
    # then the page answers 422 with the message, and nothing was stored
    assert response.status_code == 422
    assert "The file &#x27;deck.pptx&#x27; is not a PowerPoint deck" in response.content.decode()
    assert Asset.objects.count() == 0
    assert [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()] == []


@pytest.mark.django_db
def test_files_are_served_only_to_signed_in_users_as_attachments_with_a_safe_name():
    # given a file asset whose original name has quotes, a path and unicode
    upload = SimpleUploadedFile("x.pdf", PDF)
    upload.name = '../evil"; filename=hack.sh résumé.pdf'
    asset = asset_create(title="Résumé", kind="brochure", upload=upload)
    url = f"/enablement/assets/{asset.pk}/file/"
    # when an anonymous visitor asks / then they are sent to the login page
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    # when a signed-in rep asks
    client, _ = _client(Role.SALES_REP)
    response = client.get(url)
    # then the file streams as an attachment with a quoted, encoded name and no sniffing
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF  # type: ignore[attr-defined]
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''") or disposition.startswith('attachment; filename="')
    assert "\n" not in disposition and "/" not in disposition.split("filename", 1)[1]
    assert (response["Content-Type"], response["X-Content-Type-Options"]) == ("application/pdf", "nosniff")


@pytest.mark.django_db
def test_the_person_page_loads_the_panel_lazily_and_the_panel_has_pinned_queries(django_assert_num_queries):
    # given a RevOps person with a persona, an objection and a matching asset
    client, user = _client(Role.SALES_REP)
    persona = PersonaFactory(name="RevOps")
    ObjectionFactory(persona=persona, objection="We have a CRM", answer="It works beside it")
    AssetFactory(title="RevOps case study", persona=persona)
    AssetFactory(title="Deck for finance", persona=PersonaFactory(name="Finance", rules={}))
    person = PersonFactory(job_title="RevOps Lead", owner=user)
    # when the person page is shown / then it only holds the loader
    page = client.get(f"/people/{person.pk}/").content.decode()
    assert f'hx-get="/enablement/people/{person.pk}/panel/"' in page and "We have a CRM" not in page
    # when the panel loads / then it shows the persona, its objection and only the fitting asset
    with django_assert_num_queries(16):
        panel = client.get(f"/enablement/people/{person.pk}/panel/", HTTP_HX_REQUEST="true").content.decode()
    assert "Persona: <strong>RevOps</strong>" in panel and "We have a CRM" in panel
    assert "RevOps case study" in panel and "Deck for finance" not in panel


@pytest.mark.django_db
def test_a_rep_sends_from_the_panel_and_gets_the_panel_back():
    # given a rep, a person and an asset
    client, user = _client(Role.SALES_REP)
    person = PersonFactory(owner=user)
    asset = AssetFactory(title="Overview")
    # when the rep presses Send in the panel (HTMX)
    response = client.post(f"/enablement/assets/{asset.pk}/send/", {"person_id": person.pk}, HTTP_HX_REQUEST="true")
    # then the panel comes back saying what happened (no mail server here: recorded, not "Sent"), and the use exists
    assert response.status_code == 200
    assert (
        f"Recorded “Overview” as shared with {person}. Not e-mailed: no mail server is set up, so send it yourself."
        in response.content.decode()
    )
    assert "Sent “" not in response.content.decode()
    assert ContentUse.objects.get().used_by_id == user.pk  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_a_viewer_cannot_send_or_edit_and_nothing_changes():
    # given a viewer
    client, _ = _client(Role.VIEWER)
    person = PersonFactory()
    asset = AssetFactory()
    # when they try to send, add an asset or a persona / then refused with 403
    assert client.post(f"/enablement/assets/{asset.pk}/send/", {"person_id": person.pk}).status_code == 403
    assert client.post("/enablement/assets/new/", {"title": "x", "kind": "deck", "url": "https://e.com"}).status_code == 403
    assert client.post("/enablement/personas/", {"name": "x"}).status_code == 403
    assert (ContentUse.objects.count(), Asset.objects.count()) == (0, 1)


@pytest.mark.django_db
def test_marketing_edits_a_persona_in_the_ui_and_bad_json_is_refused_keeping_the_old_rules():
    # given a persona
    client, _ = _client(Role.MARKETING)
    persona = PersonaFactory(name="RevOps", priority=10)
    rules = persona.rules
    # when the rules are not JSON / then 422 with the message and nothing changed
    bad = client.post(f"/enablement/personas/{persona.pk}/", {"name": "RevOps", "rules": "{oops", "priority": "3", "is_active": "on"})
    assert bad.status_code == 422 and "The rules are not valid JSON" in bad.content.decode()
    persona.refresh_from_db()
    assert (persona.rules, persona.priority) == (rules, 10)
    # when valid rules and talking points are saved / then they are stored
    good = client.post(
        f"/enablement/personas/{persona.pk}/",
        {"name": "RevOps", "rules": '{"any": [{"type": "field_in", "field": "persona", "values": ["RevOps"]}]}', "priority": "3",
         "is_active": "on", "pains": "Messy data\n\nNo trust"},
    )
    assert good.status_code == 302
    persona.refresh_from_db()
    assert (persona.priority, persona.pain_list, persona.rules["any"][0]["values"]) == (3, ["Messy data", "No trust"], ["RevOps"])


@pytest.mark.django_db
def test_marketing_adds_a_link_through_the_page_and_owns_it():
    # given a marketer, a persona and a theme
    client, user = _client(Role.MARKETING)
    persona = PersonaFactory()
    theme = ThemeFactory(label="pricing")
    # when a link asset is added with the owner left on "Me"
    response = client.post(
        "/enablement/assets/new/",
        {"title": "Price FAQ", "kind": "blog_post", "url": "https://example.com/faq", "persona_id": persona.pk,
         "stage": "sql", "owner_id": "", "theme_ids": [theme.pk]},
    )
    # then it is stored with her as owner and the page of the new asset opens
    asset = Asset.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/enablement/assets/{asset.pk}/"
    assert (asset.owner_id, asset.persona_id, asset.stage, list(asset.themes.all())) == (user.pk, persona.pk, "sql", [theme])  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_library_filters_narrow_the_list_and_a_bad_filter_is_named():
    # given assets that differ in type, persona, stage, product and theme
    client, _ = _client(Role.SALES_REP)
    persona, product, theme = PersonaFactory(), ProductFactory(), ThemeFactory(label="pricing")
    AssetFactory(title="Alpha deck", kind="deck", persona=persona, stage="sql", product=product).themes.set([theme])
    AssetFactory(title="Beta video", kind="video", stage="mql")
    AssetFactory(title="Gamma card", kind="battle_card")

    def titles(**params: object) -> list[str]:
        page = client.get("/enablement/", params).content.decode()
        return [t for t in ("Alpha deck", "Beta video", "Gamma card") if t in page]

    # when / then each filter keeps what it should (a stage filter keeps assets for any stage too)
    assert titles(kind="video") == ["Beta video"]
    assert titles(persona=persona.pk) == ["Alpha deck"]
    assert titles(stage="sql") == ["Alpha deck", "Gamma card"]
    assert titles(product=product.pk, theme=theme.pk) == ["Alpha deck"]
    assert titles(q="gamma") == ["Gamma card"]
    # and a malformed filter is named and ignored
    response = client.get("/enablement/", {"kind": "flyer"})
    assert "Unknown asset type." in response.content.decode()
    assert titles(kind="flyer") == ["Alpha deck", "Beta video", "Gamma card"]
