"""Shared fixtures: paths to ../shared/data, the browser, and skips with a reason when a tool is missing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent: the real-data tests need ../shared/data beside the clone")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _static_plain(settings):  # type: ignore[no-untyped-def]
    # Pages link the plain static names: a manifest left in var/static by `make demo` would name hashed copies
    # of older files. tests/core/test_operations.py checks the manifest storage itself on its own folder.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _report_cache(settings):  # type: ignore[no-untyped-def]
    # Reports are cached on the data version (tandem.core.reportcache). Each test starts with an empty cache in
    # this process's memory whatever TANDEM_CACHE_URL / TANDEM_REDIS_URL say: SQLite hands a rolled-back test's
    # ids out again, so two tests could otherwise meet the same version with other data.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
    from django.core.cache import cache

    from tandem.core import reportcache

    cache.clear()
    reportcache.report_cache_reset()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path_factory):  # type: ignore[no-untyped-def]
    # Uploads (the content library, the demo's generated files) go to a fresh folder, never to var/media.
    settings.MEDIA_ROOT = tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _crm_defaults(request):  # type: ignore[no-untyped-def]
    # Migrations seed the built-in activity kinds and the default pipeline; the flush after each transactional
    # test empties every table, so such tests get them back as a flushed database does (demo's database_reset).
    marker = request.node.get_closest_marker("django_db")
    if "live_server" in request.fixturenames or "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction")
    ):
        request.getfixturevalue("transactional_db")
        from tandem.crm.services import crm_defaults_ensure

        crm_defaults_ensure()


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed at /usr/bin/chromium (apt-get install -y chromium)")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: Path):  # type: ignore[no-untyped-def]
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(
            executable_path=str(chromium_path),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(15000)
    yield pg
    context.close()
