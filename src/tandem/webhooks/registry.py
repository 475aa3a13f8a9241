"""What the floors above tell webhooks: how to tell admins that an endpoint was disabled.

The in-app notifications live in lifecycle, floors above; lifecycle registers its function here in its
AppConfig.ready() (docs/architecture.md, "Talking upward"). Without one, the event row is the only notice.
"""

from __future__ import annotations

from collections.abc import Callable

# kind, text, url -> how many admins were told
AdminNotifier = Callable[..., int]
_NOTIFIERS: dict[str, AdminNotifier] = {}


def admin_notifier_register(*, name: str, notify: AdminNotifier) -> None:
    """Have `notify(kind=..., text=..., url=...)` called when webhooks must tell the admins something."""
    _NOTIFIERS[name] = notify


def admins_notify(*, kind: str, text: str, url: str) -> int:
    """Tell the admins through every registered notifier; returns how many notices were made."""
    return sum(notify(kind=kind, text=text, url=url) for notify in _NOTIFIERS.values())
