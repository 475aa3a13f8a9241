"""Signing and posting one webhook message: plain functions of the URL, body and secrets (no ORM).

Signatures are made by the `standardwebhooks` library (the specification's reference implementation), so what a
receiver verifies with `standardwebhooks.Webhook(secret).verify(body, headers)` is what we computed.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import secrets
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
USER_AGENT = "Tandem-Webhooks/1"


def secret_generate() -> str:
    """A new signing secret: `whsec_` + base64 of 32 random bytes (the specification asks for 24 to 64)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def message_id_new() -> str:
    """A message id, `msg_` + a millisecond clock + 64 random bits: unique, and sortable by creation."""
    return f"msg_{int(time.time() * 1000):012x}{secrets.token_hex(8)}"


def signature_header(
    *, secrets_in_use: Sequence[str], message_id: str, timestamp: dt.datetime, body: bytes
) -> str:
    """The `webhook-signature` value: one `v1,<base64>` per secret, space-separated (two during a rotation)."""
    return " ".join(Webhook(s).sign(message_id, timestamp, body) for s in secrets_in_use)


def url_problem(url: str, *, allow_private: bool, resolve: bool = False) -> str | None:
    """Why we refuse to post to `url`, or None: only http(s) with a host; private addresses when not allowed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a URL"
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host"
    if any(c.isspace() for c in url):
        return "must not contain spaces"
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number or out of range
    except ValueError:
        return "has an invalid port"
    if allow_private:
        return None
    hosts: list[str] = [parts.hostname]
    if resolve:
        try:
            hosts = sorted({str(info[4][0]) for info in socket.getaddrinfo(parts.hostname, None)})
        except OSError:
            return None  # an unknown host fails the attempt itself, with its own error
    for host in hosts:
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            if host == "localhost" or host.endswith(".localhost"):
                return "points to this machine (private targets are not allowed here)"
            continue
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            return f"points to a private address {address} (private targets are not allowed here)"
    return None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect is an answer like any other non-2xx: following it would post the signed body elsewhere.
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Answer:
    """What one POST got: the status (None when there was no HTTP answer), the start of the body, the error."""

    status: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(*, url: str, body: bytes, headers: dict[str, str], timeout: float, excerpt_max: int) -> Answer:
    """POST the body; never raises for what the network or the receiver does (that is the Answer)."""
    request = urllib.request.Request(url, data=body, method="POST")
    for name, value in {"content-type": "application/json", "user-agent": USER_AGENT, **headers}.items():
        request.add_header(name, value)
    started = time.monotonic()
    status: int | None = None
    text, error = "", ""
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
            text = response.read(excerpt_max * 4).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status = exc.code
        try:
            text = exc.read(excerpt_max * 4).decode("utf-8", "replace")
        except OSError:
            text = ""
        error = f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        error = f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) else reason
    duration = int((time.monotonic() - started) * 1000)
    if status is not None and not 100 <= status <= 599:
        error, status = f"invalid HTTP status {status}", None
    return Answer(status=status, excerpt=text[:excerpt_max], error=error[:1000], duration_ms=duration)
