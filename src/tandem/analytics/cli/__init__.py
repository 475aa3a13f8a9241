"""Reports for `tandem report NAME`: one module per report in this package, found by name.

A report module defines:
    NAME: str                          the subcommand (`tandem report NAME`)
    HELP: str                          one line for `tandem report --help`
    FORMATS: tuple[str, ...]           the --format values it supports, the first being the default
    def add_arguments(parser) -> None  its own options (argparse)
    def run(*, options: dict, out: TextIO) -> None
                                       compute through selectors and write the chosen format to `out`;
                                       raise tandem.core.errors.TandemError for bad options
`tandem report --help` imports every report module, so a module imports its selectors inside run() and takes the
choices add_arguments() offers from the light `options` modules (plain data): numpy, django-ninja and the rest
wait until a report runs.
Modules whose name starts with "_" are helpers, not reports.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def report_modules() -> dict[str, ModuleType]:
    """Every report module, by its NAME, in name order."""
    found: dict[str, ModuleType] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "NAME") and hasattr(module, "run"):
            found[module.NAME] = module
    return dict(sorted(found.items()))
