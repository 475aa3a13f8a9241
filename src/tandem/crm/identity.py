"""Identity helpers without the ORM: normalising emails and reading company domains."""

from __future__ import annotations

import re

_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "yahoo.co.uk",
        "hotmail.com",
        "outlook.com",
        "live.com",
        "msn.com",
        "aol.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "web.de",
        "mail.com",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
        "fastmail.com",
        "hey.com",
        "qq.com",
        "163.com",
        "rediffmail.com",
        "free.fr",
        "orange.fr",
        "libero.it",
        "uol.com.br",
        "bol.com.br",
    }
)


def email_is_valid(value: str) -> bool:
    return bool(_EMAIL_RE.match(value.strip()))


def email_normalize(value: str | None, *, strip_plus: bool = False) -> str | None:
    """Lower-case and trim an email; optionally drop '+tag' from the local part. None when empty."""
    if value is None:
        return None
    email = value.strip().lower()
    if not email:
        return None
    if strip_plus and "@" in email:
        local, _, domain = email.partition("@")
        email = f"{local.split('+', 1)[0]}@{domain}"
    return email


def email_domain(value: str | None) -> str | None:
    """The company domain of an email, or None for free-mail addresses."""
    if not value or "@" not in value:
        return None
    domain = value.rsplit("@", 1)[1].strip().lower()
    if not domain or domain in FREE_MAIL_DOMAINS:
        return None
    return domain


def name_key(first_name: str, last_name: str) -> str:
    return f"{first_name} {last_name}".strip().lower()


def email_normalize_configured(value: str | None) -> str | None:
    """email_normalize with plus-address stripping as the installation's EMAIL_STRIP_PLUS setting says."""
    # Imported here so the rest of this module stays usable without configured settings.
    from django.conf import settings

    return email_normalize(value, strip_plus=bool(getattr(settings, "EMAIL_STRIP_PLUS", False)))


MIN_PHONE_DIGITS = 8


def phone_normalize(value: str | None) -> str | None:
    """The digits of a phone number, or None when fewer than 8 remain (too short to tell people apart)."""
    if not value:
        return None
    digits = "".join(ch for ch in value if ch.isdigit())
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


# The ExternalId system under which a merged-away person's email is kept, so it still finds the survivor.
MERGED_EMAIL_SYSTEM = "merged-email"
