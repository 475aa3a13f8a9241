"""Record-level access in enablement: a person's panel and suggestions, sending and recording content, the latest
uses of an asset, and collateral requests tied to a deal or an account."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tandem.enablement.models import ContentUse
from tandem.enablement.requests.models import CollateralRequest
from tandem.enablement.requests.services import collateral_request_file
from tandem.users.models import RepAccess
from tests.enablement.factories import AssetFactory, ContentUseFactory
from tests.users.access_world import World, world  # noqa: F401

HX = {"HX-Request": "true"}
JSON = "application/json"


def _due() -> str:
    return (timezone.localdate() + dt.timedelta(days=10)).isoformat()


def test_a_rep_of_another_team_gets_nothing_of_a_person_and_records_nothing(client, world: World) -> None:  # noqa: F811
    # given rep B1, an asset, and A1's person and deal
    asset = AssetFactory(title="ROI calculator")
    person, deal = world.a1.person, world.a1.deal
    client.force_login(world.rep_b1)
    # when B1 reads the person's enablement, sends the asset to them and records a use, by API and page
    panel_api = client.get(f"/api/people/{person.pk}/enablement")
    panel_page = client.get(f"/enablement/people/{person.pk}/panel/", headers=HX)
    sent = client.post(f"/api/enablement/assets/{asset.pk}/send", {"person_id": person.pk}, content_type=JSON)
    used = client.post("/api/enablement/uses", {"asset_id": asset.pk, "person_id": person.pk}, content_type=JSON)
    on_own = client.post(
        "/api/enablement/uses",
        {"asset_id": asset.pk, "person_id": world.b1.person.pk, "deal_id": deal.pk},
        content_type=JSON,
    )
    page = client.post(f"/enablement/people/{person.pk}/uses/", {"asset_id": asset.pk})
    page_send = client.post(f"/enablement/assets/{asset.pk}/send/", {"email": person.email})
    # then the person is out of sight: 404 where it is the address, "no such person" (422) where a body names it,
    # as for ids that do not exist; A1's deal cannot be named on B1's own person either; nothing was recorded
    assert (panel_api.status_code, panel_page.status_code, page.status_code) == (404, 404, 404)
    assert [(r.status_code, r.json()["field"]) for r in (sent, used, on_own)] == [
        (422, "person_id"),
        (422, "person_id"),
        (422, "deal_id"),
    ]
    assert page_send.status_code == 302 and ContentUse.objects.count() == 0


def test_a_viewer_and_a_teammate_who_may_only_look_record_nothing(client, world: World) -> None:  # noqa: F811
    # given an asset, and team A's reps may see the team's records but change only their own
    asset = AssetFactory()
    world.set_rep_access(world.team_a, RepAccess.TEAM_VIEW)
    person = world.a1.person
    # when the viewer and A2 record a use with A1's person, and A2 opens the person's panel
    client.force_login(world.viewer)
    viewer = client.post("/api/enablement/uses", {"asset_id": asset.pk, "person_id": person.pk}, content_type=JSON)
    client.force_login(world.rep_a2)
    teammate = client.post("/api/enablement/uses", {"asset_id": asset.pk, "person_id": person.pk}, content_type=JSON)
    page = client.post(f"/enablement/people/{person.pk}/uses/", {"asset_id": asset.pk})
    panel = client.get(f"/enablement/people/{person.pk}/panel/", headers=HX)
    client.force_login(world.rep_a1)
    owners_panel = client.get(f"/enablement/people/{person.pk}/panel/", headers=HX)
    # then each write is refused with 403 and nothing is recorded; A2's panel shows the suggestion without the
    # forms its owner gets
    assert (viewer.status_code, teammate.status_code, page.status_code) == (403, 403, 403)
    assert ContentUse.objects.count() == 0
    send = f'data-testid="send-{asset.pk}"'
    assert panel.status_code == 200 and asset.title in panel.content.decode() and send not in panel.content.decode()
    assert send in owners_panel.content.decode()


def test_a_manager_records_content_for_the_teams_people(client, world: World) -> None:  # noqa: F811
    # given manager A and an asset
    asset = AssetFactory()
    client.force_login(world.manager_a)
    # when they record a use with A2's person on A2's deal
    response = client.post(
        "/api/enablement/uses",
        {"asset_id": asset.pk, "person_id": world.a2.person.pk, "deal_id": world.a2.deal.pk},
        content_type=JSON,
    )
    # then it is stored
    assert response.status_code == 201
    assert list(ContentUse.objects.values_list("person_id", "deal_id", "used_by_id")) == [
        (world.a2.person.pk, world.a2.deal.pk, world.manager_a.pk)
    ]


def test_an_assets_latest_uses_list_only_the_people_the_user_may_see(client, world: World) -> None:  # noqa: F811
    # given an asset used with every rep's person
    asset = AssetFactory(title="Security whitepaper")
    for rep in world.reps:
        ContentUseFactory(asset=asset, person=world.of(rep).person, used_by=rep)
    # when rep B1 and marketing open the asset
    client.force_login(world.rep_b1)
    as_rep = client.get(f"/enablement/assets/{asset.pk}/").content.decode()
    client.force_login(world.marketing)
    as_marketing = client.get(f"/enablement/assets/{asset.pk}/").content.decode()
    # then the rep's list holds their own person; the usage count is the company's
    assert "Quincy Buffalo" in as_rep and "Quincy Aardvark" not in as_rep and "Quincy Albatross" not in as_rep
    assert 'data-testid="uses">3<' in as_rep
    assert all(f"Quincy {w}" in as_marketing for w in ("Aardvark", "Albatross", "Buffalo"))


def test_a_collateral_request_cannot_name_another_teams_deal(client, world: World) -> None:  # noqa: F811
    # given rep B1
    client.force_login(world.rep_b1)
    # when they file a request for A1's deal, then for A1's account
    for_deal = client.post(
        "/api/collateral/requests",
        {"type": "deck", "purpose": "Deck", "due_on": _due(), "deal_id": world.a1.deal.pk},
        content_type=JSON,
    )
    for_account = client.post(
        "/api/collateral/requests",
        {"type": "deck", "purpose": "Deck", "due_on": _due(), "account_id": world.a1.account.pk},
        content_type=JSON,
    )
    # then both are answered as for ids that do not exist, and nothing is filed
    assert [(r.status_code, r.json()["field"]) for r in (for_deal, for_account)] == [
        (404, "deal_id"),
        (404, "account_id"),
    ]
    assert CollateralRequest.objects.count() == 0


def test_requests_for_another_teams_deal_are_out_of_sight(client, world: World) -> None:  # noqa: F811
    # given a request A1 filed for their deal, and one B1 filed without a deal
    a1 = collateral_request_file(
        by_user=world.rep_a1, kind="deck", purpose="Aardvark board deck", due_on=timezone.localdate(), deal_id=world.a1.deal.pk
    )
    b1 = collateral_request_file(
        by_user=world.rep_b1, kind="swag", purpose="Mugs for the fair", due_on=timezone.localdate()
    )
    # when rep B1 lists the requests, reads A1's, and opens the board; then marketing lists them
    client.force_login(world.rep_b1)
    listed = [r["id"] for r in client.get("/api/collateral/requests").json()["items"]]
    one = client.get(f"/api/collateral/requests/{a1.pk}")
    board = client.get("/requests/board/").content.decode()
    client.force_login(world.marketing)
    everything = sorted(r["id"] for r in client.get("/api/collateral/requests").json()["items"])
    # then B1 sees their own request only, A1's answers 404; marketing sees both
    assert listed == [b1.pk] and one.status_code == 404
    assert "Mugs for the fair" in board and "Aardvark board deck" not in board
    assert everything == sorted([a1.pk, b1.pk])
