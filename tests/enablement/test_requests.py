"""Collateral requests: filing, moving across the board (each move an event, refused moves change nothing),
lead times and library suggestions from the database, and `tandem report requests`."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.utils import timezone

from tandem.core.errors import NotAllowed, NotFound, ValidationFailed
from tandem.core.models import Event
from tandem.enablement.requests import selectors, services
from tandem.enablement.requests.models import CollateralRequest
from tandem.users.models import Role
from tests.crm.factories import AccountFactory, DealFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 10)
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def file_request(rep, *, kind="deck", purpose="Deck for the board meeting", due_on=dt.date(2026, 3, 20), at=T0, **kw):  # type: ignore[no-untyped-def]
    """A request filed by `rep` as if at `at`."""
    return services.collateral_request_file(by_user=rep, kind=kind, purpose=purpose, due_on=due_on, at=at, **kw)


def test_a_rep_files_a_request_and_it_starts_new_with_an_event():
    # given a rep with an open deal at an account
    rep = UserFactory(role=Role.SALES_REP)
    account = AccountFactory(name="Globex")
    deal = DealFactory(account=account, owner=rep)
    # when the rep asks for 200 flyers for the deal
    request = services.collateral_request_file(
        by_user=rep, kind="flyer", purpose="  Flyers for the Globex site visit ", due_on=dt.date(2026, 3, 20),
        quantity=200, deal_id=deal.pk, today=TODAY,
    )
    # then it is new, trimmed, the account taken from the deal, and the filing recorded
    assert (request.status, request.purpose, request.quantity, request.account_id) == ("new", "Flyers for the Globex site visit", 200, account.pk)
    event = Event.objects.get(kind="collateral.requested")
    assert (event.subject_id, event.actor_id, event.data["type"], event.data["account_id"]) == (request.pk, rep.pk, "flyer", account.pk)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"kind": "poster"}, "kind"), ({"purpose": "   "}, "purpose"), ({"quantity": 0}, "quantity"),
     ({"due_on": dt.date(2026, 3, 9)}, "due_on"), ({"deal_id": 999999}, "deal_id"), ({"account_id": 999999}, "account_id"),
     ({"purpose": "x" * 2001}, "purpose")],
)
def test_bad_requests_are_refused_naming_the_field_and_nothing_is_written(changes, field):  # type: ignore[no-untyped-def]
    # given a rep and one bad value
    rep = UserFactory(role=Role.SALES_REP)
    values = {"kind": "deck", "purpose": "A deck", "due_on": dt.date(2026, 3, 20), **changes}
    # when it is filed, then it is refused naming the field, and nothing was written
    with pytest.raises((ValidationFailed, NotFound)) as exc:
        services.collateral_request_file(by_user=rep, today=TODAY, **values)
    assert exc.value.field == field
    assert CollateralRequest.objects.count() == 0 and Event.objects.filter(kind__startswith="collateral").count() == 0


def test_a_viewer_cannot_file_a_request():
    # given a viewer
    viewer = UserFactory(role=Role.VIEWER)
    # when they try, then they are refused and nothing is written
    with pytest.raises(NotAllowed):
        services.collateral_request_file(by_user=viewer, kind="deck", purpose="x", due_on=dt.date(2026, 3, 20), today=TODAY)
    assert CollateralRequest.objects.count() == 0


def test_marketing_moves_a_request_to_delivered_and_every_move_is_an_event():
    # given a new request and a marketer
    rep, marketer = UserFactory(role=Role.SALES_REP), UserFactory(role=Role.MARKETING)
    request = file_request(rep)
    # when marketing accepts, starts and delivers it
    for to, at in (("accepted", T0 + dt.timedelta(days=1)), ("in_progress", T0 + dt.timedelta(days=2))):
        services.collateral_request_move(request_id=request.pk, to=to, by_user=marketer, at=at)
    done = services.collateral_request_move(
        request_id=request.pk, to="delivered", by_user=marketer, note="https://drive.example/deck", at=T0 + dt.timedelta(days=4, hours=12)
    )
    # then it is delivered with its time and note, assigned to the marketer, and each move has its event
    assert (done.status, done.delivered_at, done.delivery_note, done.assignee_id) == (
        "delivered", T0 + dt.timedelta(days=4, hours=12), "https://drive.example/deck", marketer.pk,
    )
    moves = list(Event.objects.filter(kind="collateral.moved").order_by("occurred_at").values_list("data", flat=True))
    assert [(m["from"], m["to"]) for m in moves] == [("new", "accepted"), ("accepted", "in_progress"), ("in_progress", "delivered")]
    history = selectors.collateral_request_history(request=done)
    assert [e.kind for e in history] == ["collateral.requested", "collateral.moved", "collateral.moved", "collateral.moved"]


def test_a_refused_move_changes_nothing():
    # given a new request
    rep, marketer = UserFactory(role=Role.SALES_REP), UserFactory(role=Role.MARKETING)
    request = file_request(rep)
    events = Event.objects.count()
    # when marketing tries to deliver it straight away
    with pytest.raises(NotAllowed):
        services.collateral_request_move(request_id=request.pk, to="delivered", by_user=marketer)
    # then it is still new, unassigned, undelivered, and no event was written
    request.refresh_from_db()
    assert (request.status, request.assignee_id, request.delivered_at, request.status_changed_at) == ("new", None, None, T0)
    assert Event.objects.count() == events


def test_declining_needs_a_reason_and_keeps_it():
    # given a new request
    rep, marketer = UserFactory(role=Role.SALES_REP), UserFactory(role=Role.MARKETING)
    request = file_request(rep)
    # when it is declined without a reason, then that is refused and nothing changes
    with pytest.raises(ValidationFailed) as exc:
        services.collateral_request_move(request_id=request.pk, to="declined", by_user=marketer, reason=" ")
    request.refresh_from_db()
    assert exc.value.field == "reason" and request.status == "new"
    # when it is declined with a reason
    services.collateral_request_move(request_id=request.pk, to="declined", by_user=marketer, reason="The Q1 deck covers it")
    # then the reason is on the request and on its event
    request.refresh_from_db()
    assert (request.status, request.decline_reason) == ("declined", "The Q1 deck covers it")
    assert Event.objects.get(kind="collateral.moved").reason == "The Q1 deck covers it"


def test_a_rep_cannot_move_cards_on_the_board():
    # given a rep's own request
    rep = UserFactory(role=Role.SALES_REP)
    request = file_request(rep)
    # when the rep tries to accept it, then it is refused and nothing changes
    with pytest.raises(NotAllowed):
        services.collateral_request_move(request_id=request.pk, to="accepted", by_user=rep)
    request.refresh_from_db()
    assert request.status == "new" and not Event.objects.filter(kind="collateral.moved").exists()


def _deliver(request, marketer, days: float) -> None:  # type: ignore[no-untyped-def]
    start = request.created_at
    services.collateral_request_move(request_id=request.pk, to="accepted", by_user=marketer, at=start + dt.timedelta(hours=1))
    services.collateral_request_move(request_id=request.pk, to="in_progress", by_user=marketer, at=start + dt.timedelta(hours=2))
    services.collateral_request_move(request_id=request.pk, to="delivered", by_user=marketer, at=start + dt.timedelta(days=days))


def test_lead_times_come_from_delivered_requests_only():
    # given decks delivered after 2, 4, 6, 10 and 20 days, a flyer after 1.5 days, and an open deck
    rep, marketer = UserFactory(role=Role.SALES_REP), UserFactory(role=Role.MARKETING)
    for days in (2, 4, 6, 10, 20):
        _deliver(file_request(rep), marketer, days)
    _deliver(file_request(rep, kind="flyer", purpose="A flyer"), marketer, 1.5)
    file_request(rep)
    # when lead times are read
    result = {lt.kind: (lt.n, lt.median_days, lt.p80_days, lt.ask_days_ahead) for lt in selectors.collateral_lead_times()}
    # then they are the median and 80th percentile of the delivered ones (hand-computed: 6 and 12 days)
    assert result == {"deck": (5, 6.0, 12.0, 12), "flyer": (1, 1.5, 1.5, 2)}


def test_repeat_requests_from_several_reps_are_suggested_for_the_library():
    # given two reps asking for a healthcare case study, and one asking twice for the same flyer
    ann, bob = UserFactory(role=Role.SALES_REP, first_name="Ann", last_name="A"), UserFactory(role=Role.SALES_REP, first_name="Bob", last_name="B")
    now = timezone.now()
    due = timezone.localdate() + dt.timedelta(days=20)
    file_request(ann, kind="case_study", purpose="Healthcare hospital case study", due_on=due, at=now - dt.timedelta(days=3))
    file_request(bob, kind="case_study", purpose="Case study: hospital in healthcare", due_on=due, at=now - dt.timedelta(days=2))
    file_request(ann, kind="flyer", purpose="Berlin trade show flyer", due_on=due, at=now - dt.timedelta(days=2))
    file_request(ann, kind="flyer", purpose="Flyer Berlin trade show", due_on=due, at=now - dt.timedelta(days=1))
    # when suggestions are read
    found = selectors.collateral_suggestions(now=now)
    # then the case study is suggested, asked by both reps; the one-rep flyer is not
    assert [(s["kind"], s["n_requests"], s["n_reps"], s["reps"]) for s in found] == [("case_study", 2, 2, ["Ann A", "Bob B"])]
    assert found[0]["label"] == "case healthcare hospital study"


def test_the_board_shows_open_requests_and_recently_closed_ones_with_warnings():
    # given requests due yesterday, in two days and in a month, one delivered long ago
    rep, marketer = UserFactory(role=Role.SALES_REP), UserFactory(role=Role.MARKETING)
    today = timezone.localdate()
    now = timezone.now()
    late = file_request(rep, due_on=today + dt.timedelta(days=1), at=now - dt.timedelta(days=2))
    CollateralRequest.objects.filter(pk=late.pk).update(due_on=today - dt.timedelta(days=1))
    soon = file_request(rep, due_on=today + dt.timedelta(days=2), at=now)
    later = file_request(rep, due_on=today + dt.timedelta(days=30), at=now)
    old = file_request(rep, due_on=today, at=now - dt.timedelta(days=90))
    _deliver(old, marketer, 1)
    # when the board is read
    columns = selectors.collateral_board(today=today)
    # then new holds the three open ones, soonest due first, with their warnings; the old delivery is off the board
    assert [(c.request.pk, c.due) for c in columns["new"]] == [(late.pk, "overdue"), (soon.pk, "due_soon"), (later.pk, "")]
    assert columns["delivered"] == [] and columns["accepted"] == []


def test_report_requests_json_and_table():
    # given one delivered deck (3 days) and one overdue open flyer
    rep, marketer = UserFactory(role=Role.SALES_REP, first_name="Ray", last_name="Rep"), UserFactory(role=Role.MARKETING)
    _deliver(file_request(rep), marketer, 3)
    flyer = file_request(rep, kind="flyer", purpose="Flyers for the fair", due_on=dt.date(2026, 3, 5))
    # when the report is printed as JSON for 10 March 2026
    out = io.StringIO()
    call_command("report", "requests", "--format", "json", "--today", "2026-03-10", stdout=out)
    report = json.loads(out.getvalue())
    # then it counts the columns, warns about the flyer, and gives the deck's lead time
    assert report["as_of"] == "2026-03-10"
    assert report["counts"] == {"new": 1, "accepted": 0, "in_progress": 0, "delivered": 1, "declined": 0}
    assert report["warnings"] == [
        {"id": flyer.pk, "type": "flyer", "purpose": "Flyers for the fair", "status": "new", "due_on": "2026-03-05",
         "warning": "overdue", "requested_by": "Ray Rep"}
    ]
    assert report["lead_times"] == [{"type": "deck", "n": 1, "median_days": 3.0, "p80_days": 3.0, "ask_days_ahead": 3}]
    assert report["suggestions"] == []
    # when printed as a table, then the same facts are there
    table = io.StringIO()
    call_command("report", "requests", "--format", "table", "--today", "2026-03-10", stdout=table)
    text = table.getvalue()
    assert "new: 1" in text and f"#{flyer.pk}" in text and "overdue" in text
    assert "deck          1          3.0          3.0       3 d" in text
