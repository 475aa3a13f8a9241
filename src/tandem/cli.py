"""The `tandem` command: Django's management commands plus ours, with one settings module."""

from __future__ import annotations

import os
import sys


def _our_commands() -> list[tuple[str, str]]:
    from django.core.management import get_commands, load_command_class

    out = []
    for name, app in sorted(get_commands().items()):
        if app.startswith("tandem."):
            try:
                help_text = load_command_class(app, name).help.strip().splitlines()[0]
            except Exception:  # a broken command must not hide the others from --help
                help_text = ""
            out.append((name, help_text))
    return out


def _print_help() -> None:
    print("usage: tandem COMMAND [options]   (tandem COMMAND --help for a command's options)\n")
    print("Tandem commands:")
    for name, help_text in _our_commands():
        print(f"  {name:<18} {help_text}")
    print("\nDjango commands that work here too: migrate, createsuperuser, changepassword, shell, dbshell,")
    print("  collectstatic, check, makemigrations, showmigrations ... (`tandem help --commands` lists all)")


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    args = list(sys.argv[1:] if argv is None else argv)
    import django

    django.setup()
    if not args or args[0] in {"-h", "--help"}:
        _print_help()
        return
    from django.core.management import execute_from_command_line

    execute_from_command_line(["tandem", *args])


if __name__ == "__main__":
    main()
