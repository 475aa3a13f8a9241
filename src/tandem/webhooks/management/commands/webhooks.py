"""`tandem webhooks ...`: list, add, remove endpoints, rotate their secrets, read the delivery log, replay."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.core.errors import TandemError
from tandem.core.lazy import deferred
from tandem.webhooks.catalog import EVENT_TYPES
from tandem.webhooks.models import ALL_EVENTS, DeliveryStatus

if TYPE_CHECKING:
    from tandem.webhooks import selectors, services
else:
    # Imported at first use, not for `--help`: they bring django-ninja and standardwebhooks.
    selectors = deferred("tandem.webhooks.selectors")
    services = deferred("tandem.webhooks.services")


class Command(BaseCommand):
    help = "Manage outbound webhooks: list, add, remove, rotate (endpoints and secrets), deliveries, replay."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="list endpoints with their state and event types")
        add = sub.add_parser("add", help="add an endpoint (its signing secret is printed once)")
        add.add_argument("url")
        add.add_argument(
            "--events",
            default=ALL_EVENTS,
            help=f"comma-separated event types, or * for all (default); one of: {', '.join(EVENT_TYPES)}",
        )
        add.add_argument("--description", default="")
        remove = sub.add_parser("remove", help="remove an endpoint and its delivery log")
        remove.add_argument("endpoint_id", type=int)
        rotate = sub.add_parser(
            "rotate", help="give an endpoint a new secret (printed once); the old one overlaps"
        )
        rotate.add_argument("endpoint_id", type=int)
        deliveries = sub.add_parser("deliveries", help="the delivery log, newest first")
        deliveries.add_argument("--endpoint", type=int, default=None)
        deliveries.add_argument("--status", default="", choices=["", *DeliveryStatus.values])
        deliveries.add_argument("--limit", type=int, default=50)
        replay = sub.add_parser("replay", help="send a delivery again (same message id) and show the answer")
        replay.add_argument("delivery_id", type=int)

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            getattr(self, "_" + opts["action"])(opts)
        except TandemError as exc:
            raise CommandError(exc.message) from exc

    def _list(self, opts: dict[str, Any]) -> None:
        for e in selectors.endpoints_list():
            state = "active" if e.active else f"disabled ({e.disabled_reason})"
            events = "*" if ALL_EVENTS in e.event_types else ",".join(e.event_types)
            self.stdout.write(
                f"{e.pk:>4}  {e.url}  {state}  failures={e.consecutive_failures}  events={events}"
            )

    def _add(self, opts: dict[str, Any]) -> None:
        events: Any = opts["events"].strip()
        if events != ALL_EVENTS:
            events = [name.strip() for name in events.split(",") if name.strip()]
        endpoint = services.endpoint_create(
            url=opts["url"], event_types=events, description=opts["description"]
        )
        self.stdout.write(f"added endpoint {endpoint.pk}: {endpoint.url}")
        self.stdout.write(endpoint.secret)
        self.stderr.write("Keep this signing secret: it is shown only once (rotate it to get a new one).")

    def _remove(self, opts: dict[str, Any]) -> None:
        endpoint = selectors.endpoint_get(endpoint_id=opts["endpoint_id"])
        services.endpoint_remove(endpoint=endpoint)
        self.stdout.write(f"removed endpoint {endpoint.pk}: {endpoint.url}")

    def _rotate(self, opts: dict[str, Any]) -> None:
        endpoint = services.endpoint_rotate_secret(
            endpoint=selectors.endpoint_get(endpoint_id=opts["endpoint_id"])
        )
        self.stdout.write(endpoint.secret)
        self.stderr.write(
            f"The previous secret keeps signing beside this one until {endpoint.previous_secret_expires_at:%Y-%m-%d %H:%M} UTC."
        )

    def _deliveries(self, opts: dict[str, Any]) -> None:
        page = selectors.deliveries_list(
            endpoint_id=opts["endpoint"], status=opts["status"], limit=opts["limit"]
        )
        for d in page.items:
            code = d.last_response_code or "-"
            self.stdout.write(
                f"{d.pk:>6}  {d.message_id}  endpoint={d.endpoint_id}  {d.event_type:<22} {d.status:<9} "
                f"attempts={d.attempts}  response={code}  {d.last_error}"
            )

    def _replay(self, opts: dict[str, Any]) -> None:
        # The command waits for the answer rather than leave it to the worker: whoever replays wants to see it.
        sent = services.delivery_replay(
            delivery=selectors.delivery_get(delivery_id=opts["delivery_id"]), send_now=True
        )
        code = sent.last_response_code or sent.last_error
        self.stdout.write(f"{sent.message_id}: {sent.status} ({code})")
