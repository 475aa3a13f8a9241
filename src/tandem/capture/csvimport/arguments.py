"""The arguments of `tandem import csv` and `tandem import mapping`: in a light module (no selectors or services),
so that `tandem import --help` builds its parser without importing numpy, django-ninja or the CRM's validators."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandParser

from tandem.capture.csvimport.kinds import KINDS


def csv_arguments(parser: CommandParser) -> None:
    parser.add_argument("file", type=Path, help="the CSV file to import")
    parser.add_argument(
        "--kind",
        choices=KINDS,
        default=None,
        help="what each row is (default: the mapping's kind; with auto, what the file looks like, else people)",
    )
    mapping = parser.add_mutually_exclusive_group()
    mapping.add_argument(
        "--mapping",
        default="auto",
        help="a mapping file (FILE.json, docs/bring-your-own-data.md), auto (recognise the file, else map by "
        "header similarity), or the name of a saved or shipped mapping",
    )
    mapping.add_argument(
        "--preset",
        default="",
        help="a shipped mapping (x-education, olist-mql, maven-pipeline...: tandem import mappings)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would happen, row by row; write nothing"
    )
    parser.add_argument(
        "--good-rows",
        action="store_true",
        help="import the good rows and write the refused ones to --refused-file (default: all or nothing)",
    )
    parser.add_argument(
        "--refused-file",
        type=Path,
        default=None,
        help="where --good-rows writes refused rows (FILE.refused.csv)",
    )
    parser.add_argument("--save-mapping", metavar="NAME", default="", help="save the mapping used under NAME")
    parser.add_argument(
        "--show", type=int, default=50, help="rows a dry run lists (refused rows always listed)"
    )
    parser.add_argument("--no-progress", action="store_true", help="do not draw progress bars")


def mapping_arguments(parser: CommandParser) -> None:
    sub = parser.add_subparsers(dest="mapping_action", required=True, metavar="ACTION")
    export = sub.add_parser("export", help="print a saved or shipped mapping as a mapping file (JSON)")
    export.add_argument("name", help="the mapping's name (tandem import mappings)")
    check = sub.add_parser("check", help="check a mapping file (and, with --file, that it fits a CSV file)")
    check.add_argument("mapping_file", type=Path, help="the mapping file (JSON)")
    check.add_argument("--file", type=Path, default=None, help="a CSV file it is meant for")
