"""`tandem demo`: generate the demo company, load it into an empty database, print the logins, serve."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.core.errors import TandemError
from tandem.demo.defaults import DEFAULT_PEOPLE

if TYPE_CHECKING:
    from tandem.demo.services import DemoLogin


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--end must be a date like 2026-06-30, got {text!r}") from None


class Command(BaseCommand):
    help = "Generate and load the demo company (two years, ~20,000 people), print the logins, then serve."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--people", type=int, default=DEFAULT_PEOPLE, help="how many people (default 20000)"
        )
        parser.add_argument(
            "--seed", type=int, default=7, help="random seed: the same seed gives the same company"
        )
        parser.add_argument(
            "--end", default=None, help="last day of history, YYYY-MM-DD (default: today, UTC)"
        )
        parser.add_argument("--no-serve", action="store_true", help="stop after loading instead of serving")
        parser.add_argument(
            "--reset", action="store_true", help="empty the database first (deletes everything)"
        )
        parser.add_argument("--keep-bundle", type=Path, default=None, help="also write the bundle (CSV) here")
        parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="port to serve on (default 8000)")
        parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (see tandem serve)")
        parser.add_argument("--dev", action="store_true", help="serve with Django's reloading server")
        parser.add_argument(
            "--log-file",
            default=None,
            help="where the server's log goes (default var/demo-server.log; '-' keeps it in the terminal)",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        # Imported here, not at the top: the generator and the loader bring numpy, django-ninja and more.
        from tandem.demo.services import database_reset, demo_database_state

        if opts["people"] < 1:
            raise CommandError(f"--people must be at least 1, got {opts['people']}")
        # The history ends at midnight UTC that starts `end`, so nothing is in the future on the day it runs.
        end = _date(opts["end"]) if opts["end"] else dt.datetime.now(dt.UTC).date()
        call_command("migrate", interactive=False, verbosity=0)
        if opts["reset"]:
            database_reset(reason="tandem demo --reset")
            self.stdout.write("database emptied (--reset)")
        state = demo_database_state()
        if state.people:
            self.stdout.write(
                f"The database already holds {state.people} people: nothing loaded "
                "(tandem demo --reset replaces them with the demo company)."
            )
            logins = state.logins
        else:
            logins = self._load(opts, end)
        self._print_logins(logins)
        if not opts["no_serve"]:
            url = f"http://{opts['host']}:{opts['port']}"
            self.stdout.write(f"Open {url} and sign in; run `make test` in another terminal while this one serves.")
            serve = {"host": opts["host"], "port": opts["port"], "workers": opts["workers"], "dev": opts["dev"]}
            if not opts["dev"] and opts["log_file"] != "-":
                # The terminal stays readable (the logins, the address); every request goes to the file.
                from django.conf import settings

                serve["log_file"] = opts["log_file"] or str(settings.VAR_DIR / "demo-server.log")
            call_command("serve", **serve)

    def _load(self, opts: dict[str, Any], end: dt.date) -> list[DemoLogin]:
        from tandem.demo.company import generate_company
        from tandem.demo.services import demo_load

        started = time.perf_counter()
        self.stdout.write(
            f"Generating the demo company: {opts['people']} people, seed {opts['seed']}, "
            f"two years up to {end.isoformat()} ..."
        )
        company = generate_company(people=opts["people"], seed=opts["seed"], end=end)
        self.stdout.write(f"generated: {time.perf_counter() - started:.1f} s")
        try:
            report = demo_load(company=company, progress=self.stdout.write, keep_bundle=opts["keep_bundle"])
        except TandemError as exc:
            raise CommandError(exc.message) from exc
        counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in report.counts.items())
        self.stdout.write(f"Loaded {counts} in {time.perf_counter() - started:.1f} s.")
        if opts["keep_bundle"] is not None:
            self.stdout.write(f"The bundle is in {opts['keep_bundle']}.")
        # Training takes minutes on the demo company: the background worker (started by `tandem serve`) does it,
        # so the site is up at once and the scores appear when the model is ready.
        # A job like the Train button's: the scoring page shows its progress until the model is ready.
        from tandem.scoring.services import scoring_train_start

        scoring_train_start()
        self.stdout.write(
            "The predictive score is being trained in the background (a few minutes once the server runs); the "
            "rep queue and person pages show scores when it is done (or run `tandem score train`)."
        )
        return report.logins

    def _print_logins(self, logins: list[DemoLogin]) -> None:
        from tandem.demo.company import DEMO_PASSWORD

        if not logins:
            self.stdout.write("No demo logins in this database (tandem users create ... adds users).")
            return
        self.stdout.write(f"\nLogins (password for all: {DEMO_PASSWORD})")
        self.stdout.write("")
        self.stdout.write(f"  {'Username':<11} {'Role':<14} Team")
        self.stdout.write(f"  {'-' * 11} {'-' * 14} {'-' * max(4, *(len(login.team) for login in logins))}")
        for login in logins:
            self.stdout.write(f"  {login.username:<11} {login.role:<14} {login.team}")
        self.stdout.write("")
