"""What the floors above tell enablement: how a sent asset reaches the person.

Enablement records a send (touchpoint, use, event) on its own; delivering it is an integration's job
(tandem.integrations e-mails the asset with a tracked link when SMTP is configured). The integration registers a
provider in its AppConfig.ready(); with none, or when the provider says it cannot deliver now, a send is recorded
only, and the pages and the API say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SendDelivery:
    # What the send does, in words for the page and the API ("e-mailed with a tracked link").
    label: str
    # Called before anything is written: raises a TandemError (no consent, no address) to refuse the send.
    check: Callable[..., None]  # (*, asset, person) -> None
    # Called inside the send's transaction once the use is written: queues the delivery after commit.
    deliver: Callable[..., object]  # (*, use, by_user) -> anything (ignored)


# Each provider answers the delivery it can make now, or None (e.g. no mail server configured).
_PROVIDERS: list[Callable[[], SendDelivery | None]] = []


def send_delivery_register(provider: Callable[[], SendDelivery | None]) -> None:
    """Add a delivery provider (once; registering the same one again is a no-op)."""
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def send_delivery_current() -> SendDelivery | None:
    """The delivery a send makes now: the first provider's that can deliver, else None (recorded only)."""
    for provider in _PROVIDERS:
        found = provider()
        if found is not None:
            return found
    return None


RECORDED_ONLY = "recorded only, not e-mailed"


def send_delivery_words(delivery: Any) -> str:
    """What a send does, for the page and the API."""
    return delivery.label if delivery is not None else RECORDED_ONLY
