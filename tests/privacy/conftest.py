import pytest


@pytest.fixture(autouse=True)
def _inline_capture(settings):  # type: ignore[no-untyped-def]
    # Form posts are processed in their request, so a test's person exists when the post answers.
    settings.CAPTURE_PROCESSING = "inline"
