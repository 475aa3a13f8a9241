"""The report cache helper (tandem.core.reportcache): served from Django's cache while the data version stands,
computed again after a change, never failing when the cache is down; against locmem and the real Redis."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import numpy as np
import pytest
import redis
from django.core.cache import caches

from tandem.core import reportcache
from tandem.core.dataversion import data_version_bump, data_version_get
from tandem.core.reportcache import report_cache_key, report_cached_get
from tests.redis_helpers import free_port

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
# A database number of the shared Redis that other tests leave alone; each test has its own key prefix.
REDIS_DB = 12


class Counter:
    """A report that counts how often it is computed; numpy inside, as the reports' data are."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"rows": np.arange(4, dtype=np.float64) * self.calls, "label": "leads"}


def _redis_cache(settings: Any, url: str) -> str:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "KEY_PREFIX": prefix,
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 2.0},
        }
    }
    return prefix


@pytest.mark.django_db
def test_a_report_is_computed_once_then_served_with_the_version_query_only(
    django_assert_num_queries: Any,
) -> None:
    # given
    report = Counter()
    first = report_cached_get(kind="funnel", params={"by": "channel", "period": "month"}, compute=report)
    # when the same report is asked again, its parameters in another order
    with django_assert_num_queries(1):
        second = report_cached_get(kind="funnel", params={"period": "month", "by": "channel"}, compute=report)
    # then it was computed once, and the copy served equals it
    assert report.calls == 1
    assert second["rows"].tolist() == first["rows"].tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.django_db(transaction=True)
def test_a_committed_change_computes_the_report_again() -> None:
    # given a cached report
    report = Counter()
    report_cached_get(kind="funnel", params={}, compute=report)
    # when report data change and commit (outside a transaction the bump runs at once)
    data_version_bump()
    again = report_cached_get(kind="funnel", params={}, compute=report)
    # then
    assert report.calls == 2
    assert again["rows"].tolist() == [0.0, 2.0, 4.0, 6.0]


@pytest.mark.django_db
def test_a_transaction_that_changed_report_data_caches_its_reports_for_itself_alone() -> None:
    # given a cached report, and this transaction changing report data that others cannot see yet
    report = Counter()
    report_cached_get(kind="funnel", params={}, compute=report)
    public = data_version_get()
    data_version_bump()  # queued for the commit
    # when the report is asked twice in the transaction
    report_cached_get(kind="funnel", params={}, compute=report)
    report_cached_get(kind="funnel", params={}, compute=report)
    # then computed once more from what it sees, under a version naming this transaction that no other reads
    assert report.calls == 2
    private = data_version_get()
    assert (
        private.startswith(f"{public}:uncommitted-")
        and len(private) == len(public) + len(":uncommitted-") + 32
    )


def test_keys_differ_by_kind_parameters_scope_and_version_only() -> None:
    # given
    key = report_cache_key(
        kind="weekly", params={"week": "2026-03-02"}, scope=("owners", (3, 7), True), version="1:2"
    )
    # then
    assert key.startswith("report:weekly:") and len(key) == len("report:weekly:") + 40
    assert key == report_cache_key(
        kind="weekly", params={"week": "2026-03-02"}, scope=("owners", (3, 7), True), version="1:2"
    )
    assert len({
        key,
        report_cache_key(kind="funnel", params={"week": "2026-03-02"}, scope=("owners", (3, 7), True), version="1:2"),
        report_cache_key(kind="weekly", params={"week": "2026-03-09"}, scope=("owners", (3, 7), True), version="1:2"),
        report_cache_key(kind="weekly", params={"week": "2026-03-02"}, scope=("everyone",), version="1:2"),
        report_cache_key(kind="weekly", params={"week": "2026-03-02"}, scope=("owners", (3, 7), True), version="1:3"),
    }) == 5  # fmt: skip
    # sets give the same key whatever their order
    assert report_cache_key(kind="k", params={"by": {"b", "a"}}, version="1") == report_cache_key(
        kind="k", params={"by": {"a", "b"}}, version="1"
    )


@pytest.mark.django_db
def test_a_cache_that_does_not_answer_computes_the_report_and_is_left_alone_a_while(
    settings: Any, caplog: Any
) -> None:
    # given the cache on a Redis port where nothing listens
    _redis_cache(settings, f"redis://127.0.0.1:{free_port()}/0")
    report = Counter()
    # when a report is asked twice
    with caplog.at_level(logging.WARNING, logger="tandem.core.reportcache"):
        first = report_cached_get(kind="funnel", params={}, compute=report)
        second = report_cached_get(kind="funnel", params={}, compute=report)
    # then both were computed, one warning says why, and the second did not wait for the cache again
    assert first["rows"].tolist() == [0.0, 1.0, 2.0, 3.0] and second["rows"].tolist() == [0.0, 2.0, 4.0, 6.0]
    assert [r.getMessage() for r in caplog.records] == [
        "report cache read failed for funnel; computing without the cache"
    ]
    # and once the pause is over it tries again
    reportcache.report_cache_reset()
    with caplog.at_level(logging.WARNING, logger="tandem.core.reportcache"):
        report_cached_get(kind="funnel", params={}, compute=report)
    assert len(caplog.records) == 2


@pytest.fixture
def real_redis(settings: Any) -> Any:
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip(f"no Redis answers on {REDIS_HOST}:{REDIS_PORT}")
    prefix = _redis_cache(settings, f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}")
    yield client
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


@pytest.mark.django_db
def test_reports_are_shared_through_the_real_redis(real_redis: Any, django_assert_num_queries: Any) -> None:
    # given a report computed by one process and stored in Redis
    report = Counter()
    first = report_cached_get(kind="dashboard", params={"as_of": "2026-03-02"}, compute=report)
    # when another process (a fresh connection to the same Redis) asks for it
    caches["default"].close()
    with django_assert_num_queries(1):
        second = report_cached_get(kind="dashboard", params={"as_of": "2026-03-02"}, compute=report)
    # then it is served from Redis: pickled with its numpy array, under the project's key prefix
    assert report.calls == 1
    assert second["rows"].tolist() == first["rows"].tolist()
    assert len([k for k in real_redis.scan_iter("test-*:1:report:dashboard:*")]) >= 1
