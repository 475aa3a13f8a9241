"""The one report cache: every report (funnel, attribution, economics, dashboard, weekly, SLA scorecard,
segments, control charts) is kept in Django's cache under its kind, its parameters, the reader's scope (for a
report filtered per user) and the data version (tandem.core.dataversion), so a change anywhere is seen at once.

The cache is Django's default (settings.CACHES: Redis shared by every node in production, this process's
memory otherwise, docs/operations.md). Values are pickled, so they must be picklable (dicts, dataclasses,
numpy arrays are). A cache that does not answer (Redis down) never fails a page: the report is computed, a
warning logged, and the cache left alone for a while so every request does not wait for its timeout.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.core.cache import caches

from tandem.core.dataversion import data_version_get

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Seconds an entry lives: versions move on, so old entries are never read again and only need to go.
REPORT_CACHE_SECONDS = 3600
# Seconds the cache is left alone after it failed to answer.
CACHE_DOWN_SECONDS = 30.0
_MISS = object()
_down_until = 0.0


def _stable(value: Any) -> Any:
    """The value with its sets and mappings in sorted order, so equal parameters give equal keys everywhere."""
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _stable(v)) for k, v in value.items()))
    if isinstance(value, set | frozenset):
        return tuple(sorted((_stable(v) for v in value), key=repr))
    if isinstance(value, list | tuple):
        return tuple(_stable(v) for v in value)
    return value


def report_cache_reset() -> None:
    """Forget that the cache failed: the next report tries it again (tests; a process that knows it is back)."""
    global _down_until
    _down_until = 0.0


def report_cache_key(*, kind: str, params: Mapping[str, Any], scope: Any = None, version: str) -> str:
    """The cache key of one report: its kind in clear, the rest hashed (keys stay short for any backend)."""
    digest = hashlib.sha256(repr((_stable(params), _stable(scope), version)).encode()).hexdigest()[:40]
    return f"report:{kind}:{digest}"


def _cache_failed(action: str, kind: str) -> None:
    global _down_until
    _down_until = time.monotonic() + CACHE_DOWN_SECONDS
    logger.warning("report cache %s failed for %s; computing without the cache", action, kind, exc_info=True)


def report_cached_get(
    *, kind: str, params: Mapping[str, Any], compute: Callable[[], T], scope: Any = None
) -> T:
    """The report `compute` makes, from the cache while the data version is unchanged (one query when cached)."""
    if time.monotonic() < _down_until:
        return compute()
    cache = caches["default"]
    key = report_cache_key(kind=kind, params=params, scope=scope, version=data_version_get())
    try:
        hit = cache.get(key, _MISS)
    except Exception:  # any backend error: Redis refusing, timing out, a broken pickle
        _cache_failed("read", kind)
        return compute()
    if hit is not _MISS:
        return hit  # type: ignore[no-any-return]
    value = compute()
    try:
        cache.set(key, value, timeout=REPORT_CACHE_SECONDS)
    except Exception:
        _cache_failed("write", kind)
    return value
