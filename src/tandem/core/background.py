"""Loops the background worker runs beside Huey's task threads, registered by the apps that own them.

core sits below every app, so the worker cannot import them: an app registers its loop in its AppConfig.ready()
(as Django's admin registry is filled), and `tandem worker` starts one thread per registered loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# name -> a function taking `stop` (a threading.Event) that returns once it is set
_LOOPS: dict[str, Callable[..., None]] = {}


def background_loop_register(*, name: str, loop: Callable[..., Any]) -> None:
    """Have `tandem worker` run `loop(stop=event)` in a thread of its own, named `name`."""
    _LOOPS[name] = loop


def background_loops() -> dict[str, Callable[..., None]]:
    """The registered loops by name, in registration (app) order."""
    return dict(_LOOPS)
