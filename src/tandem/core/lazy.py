"""Heavy libraries imported on first use, not at start-up.

scipy and scikit-learn take over a second to import, and Django imports every app's services when it starts
(AppConfig.ready fills the registries), so a module-level `from scipy import stats` made `tandem --help` and every
process start pay for them. `deferred("scipy.stats")` stands in for the module and imports it at the first
attribute read; for the type checker, import the real module under `if TYPE_CHECKING:`. Plain Python: no Django,
so `tandem.stats` may use it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any


class Deferred:
    """A module imported at the first attribute read (then read straight from sys.modules' copy)."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            # import_module is thread-safe (the import lock); setting _module twice is harmless.
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<deferred module {self._name!r}>"


_DEFERRED: list[Deferred] = []


def deferred(name: str) -> Any:
    """Stand-in for module `name`, imported at the first attribute read."""
    module = Deferred(name)
    _DEFERRED.append(module)
    return module


def deferred_import_all() -> None:
    """Import every deferred module now: for a long-lived server process, which would rather pay for them at
    start-up (once, before gunicorn forks its workers) than in some visitor's first request."""
    for module in list(_DEFERRED):
        importlib.import_module(module._name)


def deferred_function(module: str, name: str) -> Callable[..., Any]:
    """`module.name`, imported at the first call: for registrations in AppConfig.ready() (which runs at every
    start, `tandem --help` included) that would otherwise import a whole app's services and what they use."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    call.__module__ = module
    return call
