"""Capture tests process submissions inline, so each request's effects can be checked as soon as it returns."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def inline_capture(settings):  # type: ignore[no-untyped-def]
    settings.CAPTURE_PROCESSING = "inline"
    from tandem.capture.intake.services import form_cache_clear

    form_cache_clear()
