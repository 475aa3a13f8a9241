"""Serve the JavaScript that our Python dependencies ship (htmx, plotly) as our own static files."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage


def _package_file(package: str, *parts: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"package {package!r} is not installed")
    return Path(spec.origin).parent.joinpath(*parts)


# static path -> (package, path inside the package)
VENDOR_FILES: dict[str, tuple[str, tuple[str, ...]]] = {
    "vendor/htmx-2.min.js": ("django_htmx", ("static", "django_htmx", "htmx-2.min.js")),
    "vendor/plotly.min.js": ("plotly", ("package_data", "plotly.min.js")),
}


class _SingleFileStorage(FileSystemStorage):
    def __init__(self, source: Path) -> None:
        super().__init__(location=str(source.parent))
        self.source = source


class VendorFinder(BaseFinder):
    def _resolve(self) -> dict[str, Path]:
        return {name: _package_file(pkg, *parts) for name, (pkg, parts) in VENDOR_FILES.items()}

    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        found = self._resolve().get(path)
        if found is None or not found.exists():
            return [] if find_all else None
        return [str(found)] if find_all else str(found)

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, Any]]:
        for name, source in self._resolve().items():
            storage = _SingleFileStorage(source)
            # collectstatic copies from storage.path(name): make that point at the real file.
            storage.prefix = os.path.dirname(name)  # type: ignore[attr-defined]
            yield source.name, storage
