"""Start-up: the `tandem` command imports no heavy library it does not use (bench/bench_startup.py times it)."""

from __future__ import annotations

import os
import subprocess
import sys

from django.core.management import get_commands

from tandem.cli import _our_commands

HEAVY = ("sklearn", "scipy", "pandas", "plotly")
# What no command's parser needs either: numpy, django-ninja (with pydantic), the webhook signer, the e-mail and
# phone validators, icalendar, prometheus_client, and the queue (huey, redis), which only the queue's own commands
# (run_huey, worker) may import.
HEAVY_FOR_PARSERS = (
    *HEAVY, "numpy", "ninja", "pydantic", "standardwebhooks", "phonenumbers", "email_validator", "icalendar",
    "prometheus_client", "huey", "redis",
)  # fmt: skip
QUEUE = ("huey", "redis")
QUEUE_COMMANDS = ("run_huey", "worker")


def test_help_and_every_command_parser_leave_the_heavy_libraries_unimported():
    # given a fresh interpreter (this one has imported everything the other tests needed)
    code = f"""
import contextlib, io, sys
from tandem.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["--help"])
heavy_after_help = [m for m in {HEAVY!r} if m in sys.modules]
import django
django.setup()
from django.core.management import get_commands, load_command_class
# The queue's commands last: they may import huey and redis, which the others must not.
names = sorted(n for n, app in get_commands().items() if app.startswith("tandem."))
for name in sorted(names, key=lambda n: n in {QUEUE_COMMANDS!r}):
    allowed = {QUEUE!r} if name in {QUEUE_COMMANDS!r} else ()
    load_command_class(get_commands()[name], name).create_parser("tandem", name).format_help()
    loaded = [m for m in {HEAVY_FOR_PARSERS!r} if m in sys.modules and m not in allowed]
    if loaded:
        print(name, loaded)
print(heavy_after_help, [m for m in {HEAVY!r} if m in sys.modules])
"""
    # when it prints `tandem --help`, then sets Django up and builds (and formats) every Tandem command's parser,
    # the queue's commands last
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tandem.settings"},
    )
    # then neither step imported scikit-learn, scipy, pandas or plotly, and no parser imported numpy, django-ninja,
    # pydantic, the validators, icalendar or prometheus_client (nor, before the queue's own commands, huey or redis)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[] []"


def test_help_lists_the_commands_django_finds():
    # given the commands Django finds in Tandem's apps
    django_names = sorted(name for name, app in get_commands().items() if app.startswith("tandem."))
    # when `tandem --help` lists them from their source files (without importing them)
    listed = _our_commands()
    # then it names the same commands, each with the first line of its help
    assert [name for name, _ in listed] == django_names
    assert all(help_text for _, help_text in listed)


def test_django_setup_leaves_the_queue_and_api_libraries_unimported():
    # given a fresh interpreter with Tandem's settings (a SQLite database, so psycopg has no business loading)
    code = """
import sys
import django
django.setup()
print([m for m in ("huey", "redis", "psycopg", "ninja", "pydantic", "numpy") if m in sys.modules])
"""
    # when it sets Django up, as every `tandem` command does before anything else
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tandem.settings", "TANDEM_DATABASE_URL": "sqlite:///:memory:"},
    )
    # then huey (with redis and psycopg), django-ninja (with pydantic) and numpy wait until a command uses them
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
