"""Marking a "suggested for the library" group handled: the service (all or nothing, one event per request),
the suggestions and report leaving handled requests out until new ones repeat, the board's HTMX control,
the API, and who may do it."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.models import Event
from tandem.enablement.requests import selectors, services
from tandem.enablement.requests.models import CollateralRequest
from tandem.users.models import Role
from tandem.users.services import api_token_create
from tests.enablement.factories import AssetFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}
HANDLED = "collateral.suggestion_handled"


def _case_study(rep, purpose: str = "Healthcare hospital case study", days_ago: int = 3):  # type: ignore[no-untyped-def]
    """A case-study request filed by `rep` `days_ago` days ago."""
    return services.collateral_request_file(
        by_user=rep, kind="case_study", purpose=purpose, due_on=timezone.localdate() + dt.timedelta(days=20),
        at=timezone.now() - dt.timedelta(days=days_ago),
    )


def _repeat(n_reps: int = 2, days_ago: int = 3) -> list[CollateralRequest]:
    """The same case study asked for by `n_reps` different reps: one suggestion."""
    wordings = ["Healthcare hospital case study", "Case study from a hospital, healthcare", "Hospital healthcare case study please"]
    return [_case_study(UserFactory(role=Role.SALES_REP), wordings[i % 3], days_ago) for i in range(n_reps)]


def _deck_repeat() -> None:
    """A second suggestion: the same security deck asked for by two reps."""
    for rep in (UserFactory(role=Role.SALES_REP), UserFactory(role=Role.SALES_REP)):
        services.collateral_request_file(
            by_user=rep, kind="deck", purpose="Security compliance deck", due_on=timezone.localdate() + dt.timedelta(days=9)
        )


def _handled_fields() -> list[tuple[int, object, object, object]]:
    return list(
        CollateralRequest.objects.order_by("id").values_list("id", "suggestion_handled_at", "suggestion_handled_by_id", "suggestion_asset_id")
    )


def _client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def _bearer(user) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=user, name='t')[1]}"}


def test_marketing_marks_a_suggestion_handled_naming_the_asset_and_each_request_gets_an_event():
    # given a case study asked for by two reps, a marketer and the library asset that now answers it
    first, second = _repeat()
    marketer = UserFactory(role=Role.MARKETING)
    asset = AssetFactory(title="Mercy Hospital case study")
    at = timezone.now()
    # when marketing marks the suggestion handled
    handled = services.collateral_suggestion_handle(actor=marketer, request_ids=[second.pk, first.pk, first.pk], asset=asset.pk, at=at)
    # then both requests are handled by the marketer with the asset, and each has its event
    assert [r.pk for r in handled] == [first.pk, second.pk]
    assert _handled_fields() == [(first.pk, at, marketer.pk, asset.pk), (second.pk, at, marketer.pk, asset.pk)]
    events = list(Event.objects.filter(kind=HANDLED).order_by("subject_id").values_list("subject_id", "actor_id", "occurred_at", "data"))
    data = {"request_ids": [first.pk, second.pk], "asset_id": asset.pk, "asset": "Mercy Hospital case study"}
    assert events == [(first.pk, marketer.pk, at, data), (second.pk, marketer.pk, at, data)]
    # and the request's history shows it after the filing
    assert [e.kind for e in selectors.collateral_request_history(request=first)] == ["collateral.requested", HANDLED]


def test_a_suggestion_can_be_handled_without_naming_an_asset():
    # given a repeated request
    requests = _repeat()
    admin = UserFactory(role=Role.ADMIN)
    # when an admin marks it handled with no asset
    services.collateral_suggestion_handle(actor=admin, request_ids=[r.pk for r in requests])
    # then it is handled with no asset, and the events say so
    assert [(h is not None, by, asset) for _, h, by, asset in _handled_fields()] == [(True, admin.pk, None), (True, admin.pk, None)]
    assert [e["asset_id"] for e in Event.objects.filter(kind=HANDLED).values_list("data", flat=True)] == [None, None]


@pytest.mark.parametrize(
    ("case", "field"),
    [("no ids", "request_ids"), ("unknown id", "request_ids"), ("id out of range", "request_ids"),
     ("not an id", "request_ids"), ("unknown asset", "asset_id"), ("asset id out of range", "asset_id"),
     ("already handled", "request_ids")],
)
def test_a_refused_handle_names_the_field_and_changes_nothing(case, field):  # type: ignore[no-untyped-def]
    # given a repeated request, one of them already handled earlier, and a marketer
    first, second = _repeat()
    old = _case_study(UserFactory(role=Role.SALES_REP), days_ago=30)
    marketer = UserFactory(role=Role.MARKETING)
    services.collateral_suggestion_handle(actor=marketer, request_ids=[old.pk])
    before, events = _handled_fields(), Event.objects.count()
    ids: list = [first.pk, second.pk]
    asset = None
    if case == "no ids":
        ids = []
    elif case == "unknown id":
        ids = [first.pk, 999_999]
    elif case == "id out of range":
        ids = [first.pk, 2**70]
    elif case == "not an id":
        ids = [first.pk, "2"]
    elif case == "unknown asset":
        asset = 999_999
    elif case == "asset id out of range":
        asset = -1
    elif case == "already handled":
        ids = [first.pk, old.pk]
    # when it is handled, then it is a 422 naming the field
    with pytest.raises(ValidationFailed) as exc:
        services.collateral_suggestion_handle(actor=marketer, request_ids=ids, asset=asset)
    assert (exc.value.status_code, exc.value.field) == (422, field)
    # and nothing changed
    assert _handled_fields() == before and Event.objects.count() == events


def test_a_rep_cannot_mark_a_suggestion_handled_and_nothing_changes():
    # given a repeated request and one of the reps who asked
    requests = _repeat()
    rep = requests[0].requested_by
    # when the rep marks it handled, then it is refused like any board move
    with pytest.raises(NotAllowed) as exc:
        services.collateral_suggestion_handle(actor=rep, request_ids=[r.pk for r in requests])
    assert exc.value.field == "user"
    assert [h for _, h, _, _ in _handled_fields()] == [None, None] and not Event.objects.filter(kind=HANDLED).exists()


def test_handled_requests_leave_the_suggestions_and_only_new_repeats_bring_one_back():
    # given a suggestion marketing has handled
    handled = _repeat(days_ago=10)
    marketer = UserFactory(role=Role.MARKETING)
    assert [s["request_ids"] for s in selectors.collateral_suggestions()] == [[r.pk for r in handled]]
    services.collateral_suggestion_handle(actor=marketer, request_ids=[r.pk for r in handled])
    # when it is read again, then it is gone
    assert selectors.collateral_suggestions() == []
    # when one more rep asks for the same, then one new request is no repeat: still nothing
    one = _case_study(UserFactory(role=Role.SALES_REP), "Hospital healthcare case study", days_ago=2)
    assert selectors.collateral_suggestions() == []
    # when a second rep asks for it too, then the suggestion is back with the new requests only
    two = _case_study(UserFactory(role=Role.SALES_REP), "Healthcare case study for a hospital", days_ago=1)
    found = selectors.collateral_suggestions()
    assert [(s["request_ids"], s["n_requests"], s["n_reps"]) for s in found] == [([one.pk, two.pk], 2, 2)]


def test_the_requests_report_leaves_handled_suggestions_out():
    # given two suggestions, a case study and a deck, and the case study handled
    case_studies = _repeat()
    _deck_repeat()
    services.collateral_suggestion_handle(actor=UserFactory(role=Role.MARKETING), request_ids=[r.pk for r in case_studies])
    # when the report is printed as JSON and as a table
    out, table = io.StringIO(), io.StringIO()
    call_command("report", "requests", "--format", "json", stdout=out)
    call_command("report", "requests", "--format", "table", stdout=table)
    # then only the deck is suggested
    assert [(s["type"], s["label"]) for s in json.loads(out.getvalue())["suggestions"]] == [("deck", "compliance deck security")]
    assert "compliance deck security" in table.getvalue() and "case healthcare hospital study" not in table.getvalue()


def test_marketing_sees_a_mark_handled_control_and_a_rep_does_not():
    # given a repeated request
    requests = _repeat()
    # when marketing and a rep open the board
    marketing = _client(UserFactory(role=Role.MARKETING)).get("/requests/board/").content.decode()
    rep = _client(UserFactory(role=Role.SALES_REP)).get("/requests/board/").content.decode()
    # then marketing gets the control, posting the suggestion's requests, next to the link to the library
    section = marketing[marketing.index('id="suggestions"'):]
    assert 'hx-post="/requests/suggestions/handle/"' in section and "csrfmiddlewaretoken" in section
    assert all(f'name="request_ids" value="{r.pk}"' in section for r in requests)
    assert 'hx-get="/requests/suggestions/assets/"' in section and "Add it to the library" in section
    # and the rep sees the suggestion without it
    assert "case healthcare hospital study" in rep and "Mark handled" not in rep


def test_marking_handled_on_the_board_rerenders_the_suggestions_card_without_it():
    # given two suggestions, a marketer and an asset
    case_studies = _repeat()
    _deck_repeat()
    marketer = UserFactory(role=Role.MARKETING)
    asset = AssetFactory(title="Mercy Hospital case study")
    client = _client(marketer)
    # when marketing marks the case study handled, answered by the asset
    response = client.post(
        "/requests/suggestions/handle/", {"request_ids": [str(r.pk) for r in case_studies], "asset_id": str(asset.pk)}, **HTMX
    )
    # then the card comes back without it, the deck still suggested, and the requests are handled
    html = response.content.decode()
    assert response.status_code == 200 and html.startswith('<section class="card" id="suggestions"')
    assert "Suggestion marked handled (2 requests)." in html
    assert "compliance deck security" in html and "case healthcare hospital study" not in html
    assert [(by, a) for _, _, by, a in _handled_fields()[:2]] == [(marketer.pk, asset.pk), (marketer.pk, asset.pk)]


def test_marking_handled_without_htmx_redirects_to_the_board_with_a_message():
    # given a repeated request
    requests = _repeat()
    client = _client(UserFactory(role=Role.MARKETING))
    # when the form is posted without HTMX and no asset
    response = client.post("/requests/suggestions/handle/", {"request_ids": [str(r.pk) for r in requests], "asset_id": ""}, follow=True)
    # then it lands on the board saying so, with no suggestion left
    html = response.content.decode()
    assert response.redirect_chain == [("/requests/board/", 302)]
    assert "Suggestion marked handled (2 requests)." in html and "No request has come back from several reps yet." in html


@pytest.mark.parametrize(
    ("post", "says"),
    [({"asset_id": "999999"}, "no library asset has id 999999"), ({"asset_id": "abc"}, "not an id: &#x27;abc&#x27;"),
     ({"request_ids": ["x"]}, "not an id: &#x27;x&#x27;"), ({"request_ids": []}, "name the requests")],
)
def test_a_refused_handle_on_the_board_says_why_and_changes_nothing(post, says):  # type: ignore[no-untyped-def]
    # given a repeated request
    requests = _repeat()
    client = _client(UserFactory(role=Role.MARKETING))
    # when a bad form is posted
    response = client.post("/requests/suggestions/handle/", {"request_ids": [str(r.pk) for r in requests], **post}, **HTMX)
    # then 422 with the reason on the card, the suggestion still there, and nothing changed
    html = response.content.decode()
    assert response.status_code == 422 and 'role="alert"' in html and says in html
    assert "case healthcare hospital study" in html
    assert [h for _, h, _, _ in _handled_fields()] == [None, None] and not Event.objects.filter(kind=HANDLED).exists()


def test_a_rep_posting_to_mark_handled_gets_a_403_and_nothing_changes():
    # given a repeated request and one of the reps who asked
    requests = _repeat()
    client = _client(requests[0].requested_by)
    # when the rep posts the form anyway, and asks for the asset choices
    response = client.post("/requests/suggestions/handle/", {"request_ids": [str(r.pk) for r in requests]}, **HTMX)
    choices = client.get("/requests/suggestions/assets/")
    # then both are refused and nothing changed
    assert (response.status_code, choices.status_code) == (403, 403)
    assert [h for _, h, _, _ in _handled_fields()] == [None, None] and not Event.objects.filter(kind=HANDLED).exists()


def test_the_asset_choices_are_the_current_library_by_title(django_assert_num_queries):
    # given two current assets and an expired one
    today = timezone.localdate()
    deck = AssetFactory(title="Security deck")
    case = AssetFactory(title="Mercy Hospital case study", expires_on=today)
    AssetFactory(title="Old price list", expires_on=today - dt.timedelta(days=1))
    client = _client(UserFactory(role=Role.MARKETING))
    # when the control asks for them: session, user, assets
    with django_assert_num_queries(3):
        response = client.get("/requests/suggestions/assets/")
    # then the current ones come as options, by title
    html = response.content.decode()
    assert html.strip().splitlines() == [f'<option value="{case.pk}">Mercy Hospital case study</option>', f'<option value="{deck.pk}">Security deck</option>']


def test_the_board_page_query_count_does_not_change_with_the_control(django_assert_num_queries):
    # given two suggestions and a marketer
    _repeat()
    _deck_repeat()
    AssetFactory()
    client = _client(UserFactory(role=Role.MARKETING))
    # when the board is opened: session, user, board cards, suggestions (requests + their reps), lead times;
    # the library's assets load only when a "Mark handled" control opens
    with django_assert_num_queries(6):
        response = client.get("/requests/board/")
    # then both suggestions have their control
    assert response.content.decode().count("Mark handled…") == 2


def test_api_marks_a_suggestion_handled_and_refuses_reps_and_bad_input():
    # given a repeated request, an asset, a marketer's and a rep's tokens
    requests = _repeat()
    ids = [r.pk for r in requests]
    asset = AssetFactory()
    marketer = UserFactory(role=Role.MARKETING, first_name="Mia", last_name="Marketer")
    mkt, rep = _bearer(marketer), _bearer(requests[0].requested_by)
    client = Client()
    url = "/api/collateral/suggestions/handle"
    listed = client.get("/api/collateral/suggestions", **rep).json()
    # when a rep posts it, and marketing posts no ids, an unknown asset, an unknown request
    forbidden = client.post(url, {"request_ids": ids}, content_type="application/json", **rep)
    empty = client.post(url, {"request_ids": []}, content_type="application/json", **mkt)
    no_asset = client.post(url, {"request_ids": ids, "asset_id": 999_999}, content_type="application/json", **mkt)
    unknown = client.post(url, {"request_ids": [*ids, 999_999]}, content_type="application/json", **mkt)
    # then 403 for the rep, 422 naming the field for the rest, and nothing changed
    assert forbidden.status_code == 403 and "marketing and admins" in forbidden.json()["detail"]
    assert [(r.status_code, r.json()["field"]) for r in (empty, no_asset, unknown)] == [(422, "request_ids"), (422, "asset_id"), (422, "request_ids")]
    assert [h for _, h, _, _ in _handled_fields()] == [None, None] and not Event.objects.filter(kind=HANDLED).exists()
    # when marketing marks it handled with the asset
    done = client.post(url, {"request_ids": ids, "asset_id": asset.pk}, content_type="application/json", **mkt)
    # then it answers what was handled, the suggestions no longer list it, and each request shows it
    body = done.json()
    assert done.status_code == 200
    assert (body["request_ids"], body["asset_id"], body["handled_by"]) == (ids, asset.pk, "Mia Marketer")
    handled_at = CollateralRequest.objects.get(pk=ids[0]).suggestion_handled_at
    # (the API writes times to the millisecond)
    assert dt.datetime.fromisoformat(body["handled_at"]) == handled_at.replace(microsecond=handled_at.microsecond // 1000 * 1000)
    assert client.get("/api/collateral/suggestions", **rep).json() == []
    detail = client.get(f"/api/collateral/requests/{ids[0]}", **rep).json()
    assert (detail["suggestion_asset_id"], detail["history"][-1]["kind"]) == (asset.pk, HANDLED)
    # and the suggestions kept their shape before
    assert sorted(listed[0]) == ["examples", "label", "last_requested_at", "n_reps", "n_requests", "reps", "request_ids", "type"]
