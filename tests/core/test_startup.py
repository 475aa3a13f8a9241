"""Start-up: the `tandem` command imports no heavy library it does not use (bench/bench_startup.py times it)."""

from __future__ import annotations

import os
import subprocess
import sys

from django.core.management import get_commands

from tandem.cli import _our_commands

HEAVY = ("sklearn", "scipy", "pandas", "plotly")


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
for name, app in sorted(get_commands().items()):
    if app.startswith("tandem."):
        load_command_class(app, name).create_parser("tandem", name).format_help()
print(heavy_after_help, [m for m in {HEAVY!r} if m in sys.modules])
"""
    # when it prints `tandem --help`, then sets Django up and builds (and formats) every Tandem command's parser
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tandem.settings"},
    )
    # then neither step imported scikit-learn, scipy, pandas or plotly
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
