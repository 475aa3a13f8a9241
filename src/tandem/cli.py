"""The `tandem` command: Django's management commands plus ours, with one settings module."""

from __future__ import annotations

import os
import sys


def _our_commands() -> list[tuple[str, str]]:
    """Our commands and the first line of each one's help, read from their source files.

    Reading the `help = "..."` of each Command class with `ast` needs no Django: importing every command
    (and through them every app's services, numpy and the rest) made `tandem --help` take seconds.
    """
    import ast
    from pathlib import Path

    out = []
    for path in sorted(Path(__file__).parent.glob("**/management/commands/*.py")):
        if path.name.startswith("_"):
            continue
        help_text = ""
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name == "Command":
                for item in node.body:
                    if isinstance(item, ast.Assign) and any(
                        isinstance(t, ast.Name) and t.id == "help" for t in item.targets
                    ):
                        try:
                            help_text = str(ast.literal_eval(item.value)).strip().splitlines()[0]
                        except (
                            ValueError,
                            IndexError,
                        ):  # a computed help: no summary, the command still shows
                            help_text = ""
        out.append((path.stem, help_text))
    return sorted(out)


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
    if not args or args[0] in {"-h", "--help"}:
        _print_help()  # without Django: it lists commands from their source files
        return
    import django

    django.setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["tandem", *args])


if __name__ == "__main__":
    main()
