"""Request ids, JSON logs, request latency for Prometheus and the optional Sentry hook (docs/operations.md).

Nothing here imports a Django model: the logging formatter and filter are built by `LOGGING` while settings load.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse
    from prometheus_client import Histogram

# The id of the request being answered, for every log line written while it is ("-" outside a request).
_request_id: ContextVar[str] = ContextVar("tandem_request_id", default="-")
# An incoming X-Request-ID is kept when it looks like an id (a proxy's or load balancer's), so one id follows a
# request through every hop; anything else (spaces, newlines that would forge log lines, 200 characters) is
# replaced by a new one.
_SANE_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")



@functools.cache
def _request_seconds() -> Histogram:
    """Seconds from the first middleware to the answer, by route (the URL name), method and status. Not registered
    in the default registry: /metrics builds its registry per scrape (core/operations.py), with gunicorn's workers
    summed from PROMETHEUS_MULTIPROC_DIR when that is set. Made at first use: settings import this module, and a
    command (`tandem report --help`) has no use for prometheus_client."""
    from prometheus_client import Histogram

    return Histogram(
        "tandem_request_duration_seconds",
        "Time to answer a request, by route name, method and status.",
        ["route", "method", "status"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
        registry=None,
    )


def __getattr__(name: str) -> Histogram:
    # REQUEST_SECONDS, the histogram, as a module attribute made at first read (PEP 562).
    if name == "REQUEST_SECONDS":
        return _request_seconds()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def request_id_current() -> str:
    """The id of the request being answered in this context, or "-"."""
    return _request_id.get()


class RequestIdMiddleware:
    """Gives each request an id (a sane incoming X-Request-ID, or a new one) and answers it in X-Request-ID."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


def _route(request: HttpRequest, static_url: str) -> str:
    match = getattr(request, "resolver_match", None)
    if match is not None and match.view_name:
        return match.view_name
    # Answered before URL resolution: by WhiteNoise (static files) or the capture fast lane; anything else is a
    # 404 whose path must not become a label (every scanner's probe would be a new time series).
    if request.path.startswith(static_url):
        return "static"
    if request.path.startswith("/api/capture/"):
        return "capture"
    return "unresolved"


class RequestMetricsMiddleware:
    """Observes every request's duration in `tandem_request_duration_seconds`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        from django.conf import settings

        self.get_response = get_response
        self.static_url = settings.STATIC_URL

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        _request_seconds().labels(
            route=_route(request, self.static_url),
            method=request.method or "",
            status=str(response.status_code),
        ).observe(time.perf_counter() - started)
        return response


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record, so both formats can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


# What every LogRecord carries; anything else was passed in `extra=` and goes into the JSON line as is.
_RECORD_FIELDS = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, extras, exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING setting: one console handler, text or JSON lines, each with the request id."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "tandem.core.observability.RequestIdFilter"}},
        "formatters": {
            "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
            "json": {"()": "tandem.core.observability.JsonFormatter"},
        },
        "handlers": {
            "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": log_format}
        },
        "root": {"handlers": ["console"], "level": level},
    }


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float) -> bool:
    """Start Sentry's error reporting when a DSN is set and sentry-sdk is installed; True when it was started."""
    if not dsn:
        return False
    try:
        import sentry_sdk
        from sentry_sdk.integrations.django import DjangoIntegration
    except ImportError:
        # An error reporter must not take the site down: say it loudly and run without it.
        import sys

        print(
            "TANDEM_SENTRY_DSN is set but sentry-sdk is not installed (pip install 'tandem[sentry]'): "
            "errors are not reported to Sentry",
            file=sys.stderr,
        )
        return False
    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration()],
        environment=environment or None,
        traces_sample_rate=traces_sample_rate,
        # No addresses, cookies or user names leave the installation unless an operator changes this here.
        send_default_pii=False,
    )
    return True
