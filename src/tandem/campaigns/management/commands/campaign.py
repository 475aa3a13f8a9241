"""`tandem campaign list|create|edit|clone|close|cost-add|costs|cost-delete`: campaigns and their costs from a shell."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.campaigns.limits import COST_PAGE_SIZE, PAGE_SIZE
from tandem.campaigns.models import Campaign, CampaignCost
from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.keyset import MAX_ID
from tandem.core.lazy import deferred
from tandem.crm.channels import CHANNEL_LABELS

if TYPE_CHECKING:
    from tandem.campaigns import selectors, services
else:
    # Imported at first use, not for `--help`: they bring django-ninja.
    selectors = deferred("tandem.campaigns.selectors")
    services = deferred("tandem.campaigns.services")

# Exit statuses: 1 the input was refused (the message names the field and value), 2 the command line itself
# is wrong (argparse), 3 no such campaign, cost entry or user.
REFUSED, NOT_FOUND = 1, 3

# Plan options shared by create and edit: option name → service field.
PLAN = {
    "kind": "kind", "status": "status", "start": "started_on", "end": "ended_on", "budget": "budget",
    "utm_source": "utm_source", "utm_medium": "utm_medium", "utm_campaign": "utm_campaign",
    "external_id": "external_id", "offer": "offer", "offer_ends": "offer_ends_on",
}
DATES = {"start", "end", "offer_ends"}


def _date(text: str, *, field: str) -> dt.date | None:
    """YYYY-MM-DD, or None for an empty value (which clears the date)."""
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed(f"{field} must be a date (YYYY-MM-DD), got {text!r}", field=field, value=text) from None


def _campaign(ref: str) -> Campaign:
    found = selectors.campaign_by_ref(ref=ref)
    if found is None:
        raise NotFound(f"no campaign has id or outside id {ref!r}", field="campaign", value=ref)
    return found


def _user(username: str | None) -> Any:
    if not username:
        return None
    from tandem.users.models import User

    found = User.objects.filter(username=username).first()
    if found is None:
        raise NotFound(f"no user named {username!r}", field="by", value=username)
    return found


def _campaign_dict(c: Campaign) -> dict[str, Any]:
    return {
        "id": c.pk, "name": c.name, "channel": c.channel, "kind": c.kind, "status": c.status,
        "started_on": c.started_on.isoformat() if c.started_on else None,
        "ended_on": c.ended_on.isoformat() if c.ended_on else None,
        "budget": None if c.budget is None else str(c.budget), "actual_cost": str(c.actual_cost),
        "utm_source": c.utm_source, "utm_medium": c.utm_medium, "utm_campaign": c.utm_campaign,
        "external_id": c.external_id, "offer": c.offer,
        "offer_ends_on": c.offer_ends_on.isoformat() if c.offer_ends_on else None,
        "talking_points": c.talking_point_list,
    }


def _cost_dict(c: CampaignCost) -> dict[str, Any]:
    return {
        "id": c.pk, "campaign_id": c.campaign_id, "amount": str(c.amount), "spent_on": c.spent_on.isoformat(),
        "spent_until": c.spent_until.isoformat() if c.spent_until else None, "note": c.note,
        "entered_by": c.entered_by.username if c.entered_by else None, "entered_at": c.entered_at.isoformat(),
    }


def _plan_options(parser: CommandParser, *, create: bool) -> None:
    if create:
        parser.add_argument("--name", required=True)
        parser.add_argument("--channel", required=True, help=", ".join(CHANNEL_LABELS))
    else:
        parser.add_argument("--name")
        parser.add_argument("--channel", help=", ".join(CHANNEL_LABELS))
    parser.add_argument("--kind", help=" | ".join(Campaign.Kind.values))
    parser.add_argument("--status", help=" | ".join(Campaign.Status.values))
    parser.add_argument("--start", metavar="YYYY-MM-DD", help="first day (empty clears it)")
    parser.add_argument("--end", metavar="YYYY-MM-DD", help="last day (empty clears it)")
    parser.add_argument("--budget", help="planned spend, e.g. 12000.50 (empty clears it)")
    parser.add_argument("--utm-source")
    parser.add_argument("--utm-medium")
    parser.add_argument("--utm-campaign")
    parser.add_argument("--external-id", help="its id in another tool (empty clears it)")
    parser.add_argument("--offer")
    parser.add_argument("--offer-ends", metavar="YYYY-MM-DD")
    parser.add_argument(
        "--talking-point", action="append", dest="talking_points", metavar="TEXT",
        help="one talking point; repeat for several (on edit they replace the current ones)",
    )


def _plan_values(opts: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for option, field in PLAN.items():
        given = opts.get(option)
        if given is None:
            continue
        if option in DATES:
            values[field] = _date(given, field=field)
        elif option == "budget":
            values[field] = given.strip() or None
        else:
            values[field] = given
    if opts.get("talking_points") is not None:
        values["talking_points"] = "\n".join(p.strip() for p in opts["talking_points"] if p.strip())
    return values


class Command(BaseCommand):
    help = "Campaigns: list, create, edit, clone and close them; enter and list their costs."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        listing = sub.add_parser("list", help="campaigns, the latest created first (keyset pages)")
        listing.add_argument("--status", default="", help=" | ".join(Campaign.Status.values))
        listing.add_argument("--channel", default="")
        listing.add_argument("--limit", type=int, default=PAGE_SIZE)
        listing.add_argument("--cursor", default="", help="the next_cursor a previous page printed")
        create = sub.add_parser("create", help="create a campaign")
        _plan_options(create, create=True)
        edit = sub.add_parser("edit", help="change a campaign's plan (only the options given)")
        edit.add_argument("campaign", help="id or outside id")
        _plan_options(edit, create=False)
        clone = sub.add_parser("clone", help="a new draft with the campaign's plan, without dates, costs or touchpoints")
        clone.add_argument("campaign", help="id or outside id")
        clone.add_argument("--name", default="", help="the copy's name (default: NAME (copy))")
        close = sub.add_parser("close", help="archive a campaign; it ends today unless it has an end")
        close.add_argument("campaign", help="id or outside id")
        close.add_argument("--reason", default="")
        add = sub.add_parser("cost-add", help="enter what a campaign cost on a day (or over days, spread evenly)")
        add.add_argument("campaign", help="id or outside id")
        add.add_argument("--amount", required=True, help="e.g. 1200.50")
        add.add_argument("--on", required=True, metavar="YYYY-MM-DD", help="the day it was spent (the first day of a span)")
        add.add_argument("--until", default="", metavar="YYYY-MM-DD", help="the last day of a span the amount covers")
        add.add_argument("--note", default="")
        costs = sub.add_parser("costs", help="a campaign's cost entries, the latest spent first")
        costs.add_argument("campaign", help="id or outside id")
        costs.add_argument("--limit", type=int, default=COST_PAGE_SIZE)
        costs.add_argument("--cursor", default="")
        delete = sub.add_parser("cost-delete", help="delete a cost entry entered by mistake")
        delete.add_argument("campaign", help="id or outside id")
        delete.add_argument("cost_id", type=int)
        delete.add_argument("--reason", default="")
        for p in (listing, create, edit, clone, close, add, costs, delete):
            p.add_argument("--format", choices=("text", "json"), default="text")
            if p not in (listing, costs):
                p.add_argument("--by", metavar="USERNAME", help="who does it (recorded in the event; default: nobody, the installation)")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, "_" + opts["action"].replace("-", "_"))(opts)
        except NotFound as exc:
            raise CommandError(exc.message, returncode=NOT_FOUND) from exc
        except TandemError as exc:
            where = f" (field {exc.field}, value {str(exc.value)!r})" if exc.field else ""
            raise CommandError(f"{exc.message}{where}", returncode=REFUSED) from exc

    def _json(self, data: Any) -> None:
        self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))

    def _show(self, campaign: Campaign, opts: dict[str, Any], verb: str) -> None:
        if opts["format"] == "json":
            self._json(_campaign_dict(campaign))
            return
        self.stdout.write(f"{verb} campaign {campaign.pk}: {campaign.name} ({campaign.status}, spent {campaign.actual_cost})")

    def _list(self, opts: dict[str, Any]) -> None:
        page = selectors.campaign_page(status=opts["status"], channel=opts["channel"], cursor=opts["cursor"], limit=opts["limit"])
        if opts["format"] == "json":
            self._json({"items": [{**_campaign_dict(c), "touchpoints": c.n_touchpoints} for c in page.items],
                        "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor})
            return
        self.stdout.write(f"{'id':>6}  {'status':<8}  {'channel':<14}  {'dates':<23}  {'budget':>14}  {'spent':>14}  name")
        for c in page.items:
            dates = f"{c.started_on or '—'} – {c.ended_on or ''}"
            budget = "—" if c.budget is None else f"{c.budget:,.2f}"
            self.stdout.write(f"{c.pk:>6}  {c.status:<8}  {c.channel:<14}  {dates:<23}  {budget:>14}  {c.actual_cost:>14,.2f}  {c.name}")
        if page.next_cursor:
            self.stdout.write(f"more: --cursor {page.next_cursor}")

    def _create(self, opts: dict[str, Any]) -> None:
        campaign = services.campaign_create(name=opts["name"], channel=opts["channel"], by_user=_user(opts["by"]), **_plan_values(opts))
        self._show(campaign, opts, "created")

    def _edit(self, opts: dict[str, Any]) -> None:
        campaign = _campaign(opts["campaign"])
        changes = _plan_values(opts)
        for key in ("name", "channel"):
            if opts.get(key) is not None:
                changes[key] = opts[key]
        if not changes:
            raise ValidationFailed("nothing to change: give at least one option such as --name or --end", field="campaign", value=opts["campaign"])
        services.campaign_update(campaign=campaign, by_user=_user(opts["by"]), **changes)
        self._show(campaign, opts, "saved")

    def _clone(self, opts: dict[str, Any]) -> None:
        copy = services.campaign_clone(campaign=_campaign(opts["campaign"]), by_user=_user(opts["by"]), name=opts["name"])
        self._show(copy, opts, "cloned as")

    def _close(self, opts: dict[str, Any]) -> None:
        campaign = services.campaign_close(campaign=_campaign(opts["campaign"]), by_user=_user(opts["by"]), reason=opts["reason"])
        self._show(campaign, opts, "closed")

    def _cost_add(self, opts: dict[str, Any]) -> None:
        campaign = _campaign(opts["campaign"])
        cost = services.campaign_cost_add(
            campaign=campaign,
            amount=opts["amount"],
            spent_on=_date(opts["on"], field="spent_on"),
            spent_until=_date(opts["until"], field="spent_until"),
            note=opts["note"],
            by_user=_user(opts["by"]),
        )
        if opts["format"] == "json":
            self._json({**_cost_dict(cost), "actual_cost": str(campaign.actual_cost)})
            return
        span = f"{cost.spent_on} – {cost.spent_until}" if cost.spent_until else str(cost.spent_on)
        self.stdout.write(f"cost entry {cost.pk}: {cost.amount} on {span}; {campaign.name} has cost {campaign.actual_cost}")

    def _costs(self, opts: dict[str, Any]) -> None:
        campaign = _campaign(opts["campaign"])
        page = selectors.campaign_costs_page(campaign_id=campaign.pk, cursor=opts["cursor"], limit=opts["limit"])
        if opts["format"] == "json":
            self._json({"campaign_id": campaign.pk, "budget": None if campaign.budget is None else str(campaign.budget),
                        "actual_cost": str(campaign.actual_cost), "items": [_cost_dict(c) for c in page.items],
                        "next_cursor": page.next_cursor, "prev_cursor": page.prev_cursor})
            return
        budget = "no budget" if campaign.budget is None else f"budget {campaign.budget:,.2f}"
        self.stdout.write(f"{campaign.name}: spent {campaign.actual_cost:,.2f} ({budget})")
        for c in page.items:
            span = f"{c.spent_on} – {c.spent_until}" if c.spent_until else str(c.spent_on)
            self.stdout.write(f"{c.pk:>6}  {span:<23}  {c.amount:>14,.2f}  {c.note}")
        if page.next_cursor:
            self.stdout.write(f"more: --cursor {page.next_cursor}")

    def _cost_delete(self, opts: dict[str, Any]) -> None:
        campaign = _campaign(opts["campaign"])
        if not 0 < opts["cost_id"] <= MAX_ID:
            raise NotFound(f"no cost entry has id {opts['cost_id']}", field="cost_id", value=opts["cost_id"])
        cost = selectors.campaign_cost_get(campaign_id=campaign.pk, cost_id=opts["cost_id"])
        total = services.campaign_cost_delete(cost=cost, by_user=_user(opts["by"]), reason=opts["reason"])
        if opts["format"] == "json":
            self._json({"deleted": opts["cost_id"], "campaign_id": campaign.pk, "actual_cost": str(total)})
            return
        self.stdout.write(f"deleted cost entry {opts['cost_id']}; {campaign.name} has cost {total}")
