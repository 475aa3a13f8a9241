"""`tandem campaign ...`: list, create, edit, clone, close, cost-add, costs, cost-delete; errors and exit codes."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tandem.campaigns.models import Campaign, CampaignCost
from tandem.core.models import Event
from tests.campaigns.factories import CampaignFactory
from tests.users.factories import UserFactory

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("campaign", *args, stdout=out)
    return out.getvalue()


def _refused(*args: str) -> CommandError:
    with pytest.raises(CommandError) as exc:
        call_command("campaign", *args, stdout=io.StringIO())
    return exc.value


def _rows() -> tuple[Any, ...]:
    return (
        list(Campaign.objects.order_by("pk").values()),
        list(CampaignCost.objects.order_by("pk").values()),
        Event.objects.count(),
    )


def test_create_edit_clone_close_and_costs_from_the_command_line():
    # given a marketer to act as
    marketer = UserFactory(username="mia", role="marketing")
    # when a campaign is created, edited, given costs, cloned and closed
    created = json.loads(_run(
        "create", "--name", "Spring webinar", "--channel", "webinar", "--kind", "event", "--start", "2026-03-01",
        "--budget", "5000", "--talking-point", "Live demo", "--talking-point", "Q&A", "--external-id", "W-1",
        "--by", "mia", "--format", "json",
    ))
    edited = _run("edit", "W-1", "--end", "2026-03-31", "--utm-campaign", "spring")
    added = _run("cost-add", str(created["id"]), "--amount", "1200.50", "--on", "2026-03-02", "--note", "Platform", "--by", "mia")
    _run("cost-add", "W-1", "--amount", "300", "--on", "2026-03-01", "--until", "2026-03-31")
    costs = json.loads(_run("costs", "W-1", "--format", "json"))
    cloned = json.loads(_run("clone", "W-1", "--format", "json"))
    closed = _run("close", "W-1", "--reason", "over")
    # then each step did what it said
    campaign = Campaign.objects.get(external_id="W-1")
    assert (created["name"], created["budget"], created["talking_points"]) == ("Spring webinar", "5000.00", ["Live demo", "Q&A"])
    assert edited == f"saved campaign {campaign.pk}: Spring webinar (active, spent 0.00)\n"
    assert added.startswith(f"cost entry {campaign.costs.order_by('id').first().pk}: 1200.50 on 2026-03-02;")  # type: ignore[union-attr]
    assert [(c["amount"], c["spent_on"], c["spent_until"], c["entered_by"]) for c in costs["items"]] == [
        ("1200.50", "2026-03-02", None, "mia"), ("300.00", "2026-03-01", "2026-03-31", None),
    ]
    assert (costs["actual_cost"], costs["budget"]) == ("1500.50", "5000.00")
    assert (cloned["name"], cloned["status"], cloned["actual_cost"], cloned["started_on"]) == ("Spring webinar (copy)", "draft", "0.00", None)
    assert closed.startswith(f"closed campaign {campaign.pk}: Spring webinar (archived")
    assert (campaign.status, campaign.ended_on, campaign.actual_cost) == ("archived", dt.date(2026, 3, 31), Decimal("1500.50"))
    assert Event.objects.filter(kind="campaign.created", subject_id=campaign.pk).get().actor_id == marketer.pk


def test_list_prints_a_table_and_pages_by_cursor():
    # given three campaigns
    made = [CampaignFactory(name=f"C{i}", channel="email") for i in range(3)]
    # when
    table = _run("list")
    first = json.loads(_run("list", "--limit", "2", "--format", "json"))
    rest = json.loads(_run("list", "--limit", "2", "--cursor", first["next_cursor"], "--format", "json"))
    # then newest first
    assert table.splitlines()[1].split()[0] == str(made[2].pk) and table.splitlines()[1].endswith("C2")
    assert [c["name"] for c in first["items"]] + [c["name"] for c in rest["items"]] == ["C2", "C1", "C0"]
    assert first["items"][0]["actual_cost"] == "1000.00"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (("create", "--name", "X", "--channel", "pigeon"), 1, "unknown channel 'pigeon' (field channel"),
        (("create", "--name", "X", "--channel", "email", "--budget", "-3"), 1, "(field budget, value"),
        (("create", "--name", "X", "--channel", "email", "--start", "March"), 1, "started_on must be a date"),
        (("edit", "C-1", "--start", "2026-05-01", "--end", "2026-04-01"), 1, "(field ended_on"),
        (("edit", "C-1"), 1, "nothing to change"),
        (("cost-add", "C-1", "--amount", "-1", "--on", "2026-01-01"), 1, "amount cannot be negative"),
        (("cost-add", "C-1", "--amount", "1", "--on", "2026-01-05", "--until", "2026-01-01"), 1, "(field spent_until"),
        (("cost-add", "C-1", "--amount", "1", "--on", ""), 1, "(field spent_on"),
        (("cost-add", "nope", "--amount", "1", "--on", "2026-01-01"), 3, "no campaign has id or outside id 'nope'"),
        (("cost-add", "C-1", "--amount", "1", "--on", "2026-01-01", "--by", "ghost"), 3, "no user named 'ghost'"),
        (("cost-delete", "C-1", "999999"), 3, "has no cost entry 999999"),
        (("cost-delete", "C-1", "99999999999999999999"), 3, "no cost entry"),
        (("costs", "99999999999999999999"), 3, "no campaign"),
        (("list", "--status", "paused"), 1, "unknown status 'paused'"),
        (("list", "--cursor", "zzz"), 1, "not a valid page cursor"),
    ],
)
def test_bad_input_exits_with_a_clear_error_and_changes_nothing(args, code, words):  # type: ignore[no-untyped-def]
    # given a campaign C-1
    CampaignFactory(external_id="C-1")
    before = _rows()
    # when / then
    error = _refused(*args)
    assert (error.returncode, words in str(error)) == (code, True), str(error)
    assert _rows() == before


def test_closing_twice_is_refused():
    # given a closed campaign
    CampaignFactory(external_id="C-1", status="archived")
    before = _rows()
    # when / then
    error = _refused("close", "C-1")
    assert (error.returncode, "already closed" in str(error)) == (1, True)
    assert _rows() == before


def test_cost_delete_removes_an_entry_and_lowers_the_total():
    # given a campaign with one entry of 1,000
    campaign = CampaignFactory(external_id="C-1")
    entry = campaign.costs.get()
    # when
    out = _run("cost-delete", "C-1", str(entry.pk), "--reason", "duplicate")
    # then
    campaign.refresh_from_db()
    assert out == f"deleted cost entry {entry.pk}; {campaign.name} has cost 0.00\n"
    assert (campaign.actual_cost, Event.objects.get(kind="campaign.cost_deleted").reason) == (Decimal("0.00"), "duplicate")
