"""Writes for accounts: create and edit, each checked field by field and recorded as an event."""

from __future__ import annotations

import math
import re
from typing import Any

from django.db import IntegrityError, transaction

from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import event_record
from tandem.core.text import text_clean
from tandem.crm.models import Account, SizeBand
from tandem.users.models import User

# What account_update accepts; everything else about an account is written by other services (imports, merges).
ACCOUNT_EDITABLE = ("name", "domain", "industry", "size_band", "country", "owner", "custom_fields")

NAME_MAX = 200
DOMAIN_MAX = 200
INDUSTRY_MAX = 80
COUNTRY_MAX = 80
CUSTOM_KEY_MAX = 60
CUSTOM_TEXT_MAX = 2000
CUSTOM_FIELDS_MAX = 100

_DOMAIN_RE = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")


def account_domain_clean(value: Any) -> str | None:
    """A company domain as stored: lower case, without scheme, "www.", path or port; None when empty.

    "https://www.Acme.example/about" and "acme.example" name the same account, so both are stored as the latter.
    """
    text = text_clean(value if value is not None else "", field="domain", max_length=2000, required=False)
    domain = text.lower()
    domain = re.sub(r"^[a-z][a-z0-9+.-]*://", "", domain)
    domain = domain.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    domain = domain.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    domain = domain.removeprefix("www.")
    if not domain:
        return None
    if len(domain) > DOMAIN_MAX or not _DOMAIN_RE.match(domain):
        raise ValidationFailed(
            f"domain {text!r} is not a domain name such as acme.example", field="domain", value=text
        )
    return domain


def _custom_fields(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationFailed(
            "custom_fields must be an object of names and values",
            field="custom_fields",
            value=repr(value)[:80],
        )
    if len(value) > CUSTOM_FIELDS_MAX:
        raise ValidationFailed(
            f"custom_fields holds {len(value)} fields, at most {CUSTOM_FIELDS_MAX} are allowed",
            field="custom_fields",
            value=len(value),
        )
    out: dict[str, Any] = {}
    for key, item in value.items():
        name = text_clean(key, field="custom_fields", max_length=CUSTOM_KEY_MAX, required=True)
        where = f"custom_fields.{name}"
        if isinstance(item, str):
            item = text_clean(item, field=where, max_length=CUSTOM_TEXT_MAX, required=False)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValidationFailed(f"{where} must be a finite number", field=where, value=item)
        elif item is not None and not isinstance(item, bool | int | float):
            raise ValidationFailed(
                f"{where} must be text, a number, true/false or null", field=where, value=repr(item)[:80]
            )
        out[name] = item
    return out


def _owner(value: Any) -> User | None:
    if value is None or isinstance(value, User):
        return value
    raise ValidationFailed("owner must be a user", field="owner", value=repr(value)[:80])


def _clean(changes: dict[str, Any]) -> dict[str, Any]:
    """Each given field checked and normalised, or ValidationFailed naming the first bad one."""
    out: dict[str, Any] = {}
    for key, value in changes.items():
        if key == "name":
            out[key] = " ".join(text_clean(value, field="name", max_length=NAME_MAX, required=True).split())
        elif key == "domain":
            out[key] = account_domain_clean(value)
        elif key == "industry":
            out[key] = text_clean(value, field="industry", max_length=INDUSTRY_MAX, required=False)
        elif key == "country":
            out[key] = text_clean(value, field="country", max_length=COUNTRY_MAX, required=False)
        elif key == "size_band":
            band = text_clean(value, field="size_band", max_length=16, required=False)
            if band and band not in SizeBand.values:
                raise ValidationFailed(
                    f"size_band {band!r} is not one of {', '.join(SizeBand.values)}",
                    field="size_band",
                    value=band,
                )
            out[key] = band
        elif key == "owner":
            out[key] = _owner(value)
        elif key == "custom_fields":
            out[key] = _custom_fields(value)
        else:
            raise ValidationFailed(f"field {key!r} cannot be set on an account", field=key, value=value)
    return out


def _domain_free(domain: str | None, *, exclude: int | None = None) -> None:
    if domain is None:
        return
    same = Account.objects.filter(domain=domain).only("pk", "name")
    clash = (same.exclude(pk=exclude) if exclude is not None else same).first()
    if clash is not None:
        raise NotAllowed(
            f"the domain {domain} already belongs to account {clash.name!r} (#{clash.pk})",
            field="domain",
            value=domain,
        )


def _shown(key: str, value: Any) -> Any:
    # Event data is JSON: a user is recorded by id.
    return getattr(value, "pk", None) if key == "owner" else value


def account_create(
    *,
    name: str,
    domain: str | None = None,
    industry: str = "",
    size_band: str = "",
    country: str = "",
    owner: User | None = None,
    custom_fields: dict[str, Any] | None = None,
    by_user: Any = None,
) -> Account:
    """Create an account; its domain, when given, must not belong to another account."""
    fields = _clean(
        {
            "name": name,
            "domain": domain,
            "industry": industry,
            "size_band": size_band,
            "country": country,
            "owner": owner,
            "custom_fields": custom_fields or {},
        }
    )
    _domain_free(fields["domain"])
    try:
        with transaction.atomic():
            account = Account.objects.create(**fields)
            event_record(
                kind="account.created",
                subject=account,
                actor=by_user,
                data={k: _shown(k, v) for k, v in fields.items() if v not in (None, "", {})},
            )
    except IntegrityError as exc:  # the same domain saved concurrently
        raise NotAllowed(
            f"the domain {fields['domain']} already belongs to another account",
            field="domain",
            value=fields["domain"],
        ) from exc
    return account


def account_update(*, account: Account, by_user: Any = None, **changes: Any) -> Account:
    """Change an account's name, domain, industry, size band, country, owner or custom fields (only those given)."""
    unknown = sorted(set(changes) - set(ACCOUNT_EDITABLE))
    if unknown:
        raise ValidationFailed(
            f"field {unknown[0]!r} cannot be edited here", field=unknown[0], value=changes[unknown[0]]
        )
    clean = _clean(changes)
    diff = {
        k: [_shown(k, getattr(account, k)), _shown(k, v)]
        for k, v in clean.items()
        if getattr(account, k) != v
    }
    if not diff:
        return account
    if "domain" in diff:
        _domain_free(clean["domain"], exclude=account.pk)
    try:
        with transaction.atomic():
            for key in diff:
                setattr(account, key, clean[key])
            account.save(update_fields=[*diff, "updated_at"])
            event_record(kind="account.updated", subject=account, actor=by_user, data={"changes": diff})
    except IntegrityError as exc:
        account.refresh_from_db()
        raise NotAllowed(
            f"the domain {clean['domain']} already belongs to another account",
            field="domain",
            value=clean["domain"],
        ) from exc
    return account
