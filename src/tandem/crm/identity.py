"""Identity helpers without the ORM: validating and normalising e-mails and phones, reading company domains.

An e-mail is checked by email-validator (RFC 5321/5322 syntax, internationalised domains; no DNS look-up):
`ann..x@example.com` and `ann@example.com.` are refused. Its *key* (Person.email_normalized, what identity
matching compares) is the address with the domain in its Unicode form (`xn--bcher-kva.de` and `Bücher.DE`
are both `bücher.de`: the ASCII form cannot be had for an address whose local part is not ASCII), the whole
address lower-cased as Tandem always did (no mail system in use treats `Ann@` and `ann@` as two people), and
`+tag` dropped when TANDEM_EMAIL_STRIP_PLUS is on. What is *shown* (Person.email) is the address as typed,
trimmed (email_check): what the person wrote, and what a bundle exports byte for byte.

A phone's key is its E.164 form (`+442079460958`) by phonenumbers, a number without a country code read in the
installation's TANDEM_DEFAULT_COUNTRY; the phone field keeps the number as typed. A number phonenumbers does
not hold valid has no key: it is kept, but never matches anybody. With no default country set, a number written
without its country code is keyed by its bare digits (7 to 15), as Tandem matched phones before.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from tandem.core.errors import ValidationFailed

EMAIL_MAX = 254

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


# An ASCII local part of dot-atom text (RFC 5322 atext between single dots) is valid and kept as typed by
# email-validator, so such an address needs only its domain checked, and all addresses of a domain share that
# check: a bundle's 40,000 people validated one by one spent 2 s in email-validator, mostly on their few
# thousand domains (tests compare this path with email-validator's answer for the same addresses).
_DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
_LOCAL_MAX = 64


@functools.lru_cache(maxsize=16384)
def _domain_valid(domain: str) -> str | None:
    """The normalised form of an ASCII domain email-validator accepts, or None."""
    try:
        return validate_email(f"x@{domain}", check_deliverability=False).domain
    except EmailNotValidError:
        return None


@functools.lru_cache(maxsize=65536)
def _email_parsed(value: str) -> tuple[str, str] | str:
    """(shown form, key without plus-stripping) of an address, or the reason it is not one."""
    if len(value) > EMAIL_MAX:
        return f"it is longer than {EMAIL_MAX} characters"
    local, at, domain = value.rpartition("@")
    if at and value.isascii() and len(local) <= _LOCAL_MAX and _DOT_ATOM.match(local):
        valid = _domain_valid(domain)
        if valid is not None:
            shown = f"{local}@{valid}"
            return shown, shown.lower()
    try:
        found = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        reason = str(exc).rstrip(".")
        return reason[:1].lower() + reason[1:]
    shown = unicodedata.normalize("NFC", found.normalized)
    if len(shown) > EMAIL_MAX:
        return f"it is longer than {EMAIL_MAX} characters"
    return shown, shown.lower()


def email_problem(value: str) -> str | None:
    """Why a (trimmed) text is not an e-mail address, or None when it is one."""
    parsed = _email_parsed(value.strip())
    return parsed if isinstance(parsed, str) else None


def email_is_valid(value: str) -> bool:
    return email_problem(value) is None


def email_check(value: str, *, field: str = "email") -> str:
    """The address as it is stored and shown (trimmed, otherwise as typed: the key is what unifies spellings),
    or a refusal naming the field, the value and what is wrong with it."""
    text = value.strip()
    parsed = _email_parsed(text)
    if isinstance(parsed, str):
        raise ValidationFailed(
            f"{field} {text!r} is not a valid email address: {parsed}", field=field, value=text
        )
    return text


def email_normalize(value: str | None, *, strip_plus: bool = False) -> str | None:
    """The identity key of an email (see the module's docstring); optionally without the '+tag' of the local
    part. None when empty. Text that is no address (only ever looked up, never stored: writes refuse it) is
    trimmed and lower-cased."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    parsed = _email_parsed(text)
    email = text.lower() if isinstance(parsed, str) else parsed[1]
    if strip_plus and "@" in email:
        local, _, domain = email.rpartition("@")
        email = f"{local.split('+', 1)[0]}@{domain}"
    return email


def email_domain(value: str | None) -> str | None:
    """The company domain of an email (in Unicode, as the key has it), or None for free-mail addresses."""
    if not value or "@" not in value:
        return None
    key = email_normalize(value) or ""
    domain = key.rsplit("@", 1)[1].strip()
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


def phone_country() -> str:
    """The country a phone number without a country code is read in (TANDEM_DEFAULT_COUNTRY), or ''."""
    from django.conf import settings

    return str(getattr(settings, "DEFAULT_COUNTRY", "") or "").upper()


@functools.lru_cache(maxsize=65536)
def _phone_parsed(value: str, country: str) -> str:
    """'+' and the E.164 digits of a valid number (or, with no country to read it in, its bare digits), else the
    reason it is not one."""
    try:
        number = phonenumbers.parse(value, country or None)
    except phonenumbers.NumberParseException:
        if not country and not value.lstrip().startswith("+"):
            # No country to read it in: fall back to its digits, as Tandem matched phones before E.164, so an
            # installation that never set TANDEM_DEFAULT_COUNTRY still finds `020 7946 0958` as `(020) 7946-0958`.
            digits = "".join(ch for ch in value if ch.isdigit())
            if 7 <= len(digits) <= 15:
                return digits
            return "it has no country code (+44...) and TANDEM_DEFAULT_COUNTRY is not set"
        return "it is not a phone number"
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_number(number) or country
        return f"it is not a valid number{f' in {where}' if where else ''}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_key(value: str | None, *, country: str | None = None) -> str | None:
    """The E.164 form of a phone number (`+442079460958`), read in `country` (default TANDEM_DEFAULT_COUNTRY)
    when it has no country code, or its bare digits when there is no country to read it in; None when empty or
    not a valid number."""
    if not value or not value.strip():
        return None
    parsed = _phone_parsed(value.strip()[:64], (phone_country() if country is None else country).upper())
    return parsed if _is_key(parsed) else None


def phone_problem(value: str, *, country: str | None = None) -> str | None:
    """Why a phone number has no identity key, or None when it has one (or is empty)."""
    if not value.strip():
        return None
    parsed = _phone_parsed(value.strip()[:64], (phone_country() if country is None else country).upper())
    return None if _is_key(parsed) else parsed


def _is_key(parsed: str) -> bool:
    return parsed.startswith("+") or parsed.isdigit()


def phone_normalize(value: str | None) -> str | None:
    """The identity key of a phone number: its E.164 form in the configured default country (phone_key)."""
    return phone_key(value)


def phone_tail(value: str | None) -> str:
    """The last four digits of a phone as typed: E.164 keeps them together, and so nearly every way of writing a
    number does, so stored phones can be narrowed in the database before their keys are compared."""
    digits = "".join(ch for ch in value or "" if ch.isdigit())
    return digits[-4:]


# The ExternalId system under which a merged-away person's email is kept, so it still finds the survivor.
MERGED_EMAIL_SYSTEM = "merged-email"
