"""Absolute links for what leaves the site (e-mails): the installation's address, TANDEM_BASE_URL, plus a path."""

from __future__ import annotations

from django.conf import settings


def absolute_url(path: str) -> str:
    """The path as a full address people can open from their mail client."""
    return f"{settings.BASE_URL}/{path.lstrip('/')}"
