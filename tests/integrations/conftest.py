"""A real SMTP server for the mail tests (aiosmtpd on a free local port), never a mock."""

from __future__ import annotations

import email
import email.policy
import socket
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from django.core.cache import cache


@dataclass
class Received:
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Collector:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(list(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server(settings: Any) -> Any:
    """Start aiosmtpd on 127.0.0.1 and point Tandem's SMTP settings at it; yields the collector of messages."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:  # pragma: no cover - a dev dependency
        pytest.skip("aiosmtpd is not installed (pip install -e '.[dev]')")
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=_free_port())
    try:
        controller.start()
    except Exception as exc:  # any failure to listen means no server to test against
        pytest.skip(f"could not start a local SMTP server: {exc}")
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.DEFAULT_FROM_EMAIL = "tandem@example.com"
    settings.BASE_URL = "https://tandem.example.com"
    try:
        yield collector
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _empty_report_cache() -> Any:
    cache.clear()
    yield
    cache.clear()
