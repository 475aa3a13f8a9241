"""Pure parsing and checking of what forms and outside systems send: no database, so it is fast and testable.

Every refusal is a `ValidationFailed` naming the field and the value, which the endpoints turn into a 4xx.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tandem.capture.control_chars import CONTROL, control_char_problem
from tandem.core.errors import ValidationFailed
from tandem.crm.identity import email_check as identity_email_check
from tandem.crm.identity import phone_problem

# Person fields a form field may fill by its name; any other name lands in the person's custom fields.
PERSON_FIELDS = ("email", "first_name", "last_name", "phone", "company", "job_title")
FIELD_TYPES = ("email", "text", "textarea", "tel", "select", "checkbox", "consent_email", "consent_calls", "hidden")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Keys a submission carries besides the form's own fields: where it came from, and its retry identity.
META_KEYS = (*UTM_KEYS, "campaign_id", "page_url", "referrer", "submission_id")
HONEYPOT = "hp_website"
# A touchpoint keeps utm_source and utm_medium in 120 characters (the others in 200): refused past that.
UTM_LIMITS = {"utm_source": 120, "utm_medium": 120}
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
MAX_TEXT = 2000
MAX_SHORT = 200
MAX_EVENTS = 1000


@dataclass(frozen=True)
class FieldSpec:
    """One field of a form as marketing defined it."""

    name: str
    label: str
    type: str = "text"
    required: bool = False
    choices: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "choices": list(self.choices),
        }


def form_fields_parse(raw: Any) -> list[FieldSpec]:
    """Check a form definition's field list (from the builder or the API) and return it typed."""
    if not isinstance(raw, list) or not raw:
        raise ValidationFailed("a form needs a list of at least one field", field="fields", value=raw)
    specs: list[FieldSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw):
        where = f"fields[{i}]"
        if not isinstance(item, dict):
            raise ValidationFailed(f"{where} must be an object", field=where, value=item)
        name = str(item.get("name", "")).strip()
        if not FIELD_NAME.match(name) or name in META_KEYS or name == HONEYPOT:
            raise ValidationFailed(
                f"{where}.name {name!r} must be lower-case letters, digits and underscores, start with a "
                "letter, and not be a reserved name (utm_*, campaign_id, page_url, referrer, submission_id)",
                field=f"{where}.name",
                value=name,
            )
        if name in seen:
            raise ValidationFailed(f"field name {name!r} appears twice", field=f"{where}.name", value=name)
        seen.add(name)
        ftype = str(item.get("type", "text")).strip() or "text"
        if ftype not in FIELD_TYPES:
            raise ValidationFailed(
                f"{where}.type {ftype!r} is not one of {', '.join(FIELD_TYPES)}", field=f"{where}.type", value=ftype
            )
        if name == "email" and ftype != "email":
            raise ValidationFailed("the field named 'email' must have type 'email'", field=f"{where}.type", value=ftype)
        choices = item.get("choices") or []
        if isinstance(choices, str):
            choices = [c for c in (s.strip() for s in choices.split(",")) if c]
        if ftype == "select" and not choices:
            raise ValidationFailed(f"select field {name!r} needs choices", field=f"{where}.choices", value=choices)
        label = str(item.get("label", "")).strip() or name.replace("_", " ").capitalize()
        specs.append(
            FieldSpec(
                name=name,
                label=label[:MAX_SHORT],
                type=ftype,
                required=bool(item.get("required", False)),
                choices=tuple(str(c)[:MAX_SHORT] for c in choices),
            )
        )
    if "email" not in seen and "phone" not in seen:
        raise ValidationFailed(
            "a form needs an 'email' or a 'phone' field, or Tandem cannot tell who submitted it",
            field="fields",
            value=sorted(seen),
        )
    return specs


def body_decode(*, body: bytes, content_type: str, expect: str) -> dict[str, Any]:
    """Decode a request body of the expected kind ('json' or 'form') into a flat dict."""
    media = content_type.split(";")[0].strip().lower()
    if expect == "json":
        if media != "application/json":
            raise ValidationFailed(
                f"Content-Type must be application/json, not {media or 'missing'!r}",
                field="Content-Type",
                value=content_type,
            )
        try:
            decoded = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValidationFailed("the body is not UTF-8 text", field="body", value=f"byte {exc.start}") from None
        except json.JSONDecodeError as exc:
            raise ValidationFailed(
                f"the body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                field="body",
                value=body[:80].decode("utf-8", "replace"),
            ) from None
        if not isinstance(decoded, dict):
            raise ValidationFailed("the JSON body must be an object", field="body", value=type(decoded).__name__)
        return decoded
    if media != "application/x-www-form-urlencoded":
        raise ValidationFailed(
            f"Content-Type must be application/x-www-form-urlencoded, not {media or 'missing'!r}",
            field="Content-Type",
            value=content_type,
        )
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=500)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed(f"the form body cannot be read: {exc}", field="body", value="") from None
    data: dict[str, Any] = {}
    for key, value in pairs:
        # A repeated name (a multi-select) keeps every value.
        if key in data:
            prior = data[key]
            data[key] = [*prior, value] if isinstance(prior, list) else [prior, value]
        else:
            data[key] = value
    return data


@dataclass(frozen=True)
class CleanSubmission:
    """A form submission checked against its form: what to write on the person and the touchpoint."""

    email: str = ""
    person: dict[str, str] = field(default_factory=dict)
    consent_email: bool = False
    consent_calls: bool = False
    custom: dict[str, Any] = field(default_factory=dict)
    utm: dict[str, str] = field(default_factory=dict)
    campaign_ref: str = ""
    page_url: str = ""
    referrer: str = ""
    submission_id: str = ""
    is_spam: bool = False


def _text(value: Any, *, name: str, limit: int) -> str:
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        value = str(value)
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be text", field=name, value=value)
    _no_controls(value, name=name)
    value = value.strip()
    if len(value) > limit:
        raise ValidationFailed(f"{name} is longer than {limit} characters", field=name, value=value[:40] + "…")
    return value


def _no_controls(value: str, *, name: str) -> None:
    # PostgreSQL cannot store NUL in text, and the other C0 controls are never data: refused here (before the
    # strip, which would drop some of them silently), a clear 422 naming the field on both databases.
    problem = control_char_problem(value)
    if problem:
        raise ValidationFailed(f"{name}: {problem}", field=name, value=CONTROL.sub("", value))


def _json_clean(value: Any, *, name: str, depth: int = 0) -> Any:
    if depth > 5:
        raise ValidationFailed(f"{name} nests deeper than 5 levels", field=name, value="…")
    if isinstance(value, str):
        _no_controls(value, name=name)
        return value
    if isinstance(value, dict):
        return {_json_clean(str(k), name=name, depth=depth + 1): _json_clean(v, name=f"{name}.{k}", depth=depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_clean(v, name=f"{name}[{i}]", depth=depth + 1) for i, v in enumerate(value)]
    return value


def _checked(value: Any) -> bool:
    if isinstance(value, list):
        value = value[-1] if value else ""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "on", "yes", "y", "checked")


def email_check(email: str, *, name: str = "email") -> str:
    """The email as stored (trimmed, its domain in Unicode), or a refusal naming it when it is not an address:
    the one check of tandem.crm.identity, as every other way in applies it."""
    return identity_email_check(email, field=name)


def submission_clean(*, fields: list[FieldSpec], data: dict[str, Any]) -> CleanSubmission:
    """Check a submission against the form's fields; unknown keys are ignored, never stored."""
    person: dict[str, str] = {}
    custom: dict[str, Any] = {}
    consent = {"consent_email": False, "consent_calls": False}
    email = ""
    for spec in fields:
        raw = data.get(spec.name)
        if spec.type == "checkbox" or spec.type.startswith("consent_"):
            ticked = _checked(raw) if raw is not None else False
            if spec.required and not ticked:
                raise ValidationFailed(f"{spec.label} must be ticked", field=spec.name, value=raw or "")
            if spec.type.startswith("consent_"):
                consent[spec.type] = ticked
            else:
                custom[spec.name] = ticked
            continue
        limit = MAX_TEXT if spec.type == "textarea" else MAX_SHORT
        value = _text(raw, name=spec.name, limit=limit)
        if not value:
            if spec.required:
                raise ValidationFailed(f"{spec.label} is required", field=spec.name, value="")
            continue
        if spec.type == "email":
            value = email_check(value, name=spec.name)
        elif spec.type == "select" and value not in spec.choices:
            raise ValidationFailed(
                f"{spec.label}: {value!r} is not one of the choices", field=spec.name, value=value
            )
        elif spec.type == "tel" and sum(ch.isdigit() for ch in value) < 5:
            raise ValidationFailed(f"{spec.label}: {value!r} is not a phone number", field=spec.name, value=value)
        if spec.name == "email":
            email = value
        elif spec.name in PERSON_FIELDS:
            person[spec.name] = value
        else:
            custom[spec.name] = value
    if not email and not person.get("phone"):
        names = {s.name for s in fields}
        missing = "email" if "email" in names else "phone"
        raise ValidationFailed(f"{missing} is required to know who submitted the form", field=missing, value="")
    if not email and (problem := phone_problem(person["phone"])):
        # The phone is the only way to know who submitted: one that cannot be read is refused, so the visitor
        # corrects it (beside an e-mail it is kept as typed, without an identity key).
        raise ValidationFailed(
            f"phone {person['phone']!r} cannot identify you: {problem}", field="phone", value=person["phone"]
        )
    utm = {k: v for k in UTM_KEYS if (v := _text(data.get(k), name=k, limit=UTM_LIMITS.get(k, MAX_SHORT)))}
    # The honeypot (a hidden field only a robot fills in) is looked at last, and only for being filled: the post
    # is checked like any other, so a robot learns nothing from a refusal that a real visitor would not get.
    honeypot = data.get(HONEYPOT)
    return CleanSubmission(
        is_spam=bool(honeypot.strip() if isinstance(honeypot, str) else honeypot),
        email=email,
        person=person,
        consent_email=consent["consent_email"],
        consent_calls=consent["consent_calls"],
        custom=custom,
        utm=utm,
        campaign_ref=_text(data.get("campaign_id"), name="campaign_id", limit=MAX_SHORT),
        page_url=_text(data.get("page_url"), name="page_url", limit=MAX_TEXT),
        referrer=_text(data.get("referrer"), name="referrer", limit=MAX_TEXT),
        submission_id=_text(data.get("submission_id"), name="submission_id", limit=MAX_SHORT),
    )


def utm_from_url(url: str) -> dict[str, str]:
    """UTM tags found in a page address's query string (a fallback when the page sent none)."""
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    found = {}
    for key, value in parse_qsl(query, keep_blank_values=False):
        # A tag holding a control character (`%00` in the address) is dropped: the address itself was checked.
        if key in UTM_KEYS and value.strip() and key not in found and CONTROL.search(value) is None:
            found[key] = value.strip()[: UTM_LIMITS.get(key, MAX_SHORT)]
    return found


SEARCH_ENGINES = ("google.", "bing.", "duckduckgo.", "yahoo.", "baidu.", "yandex.", "ecosia.", "qwant.")
SOCIAL_SITES = (
    "facebook.", "fb.", "instagram.", "linkedin.", "lnkd.in", "twitter.", "t.co", "x.com", "youtube.",
    "reddit.", "tiktok.", "pinterest.", "xing.",
)
PAID_MEDIUMS = ("cpc", "ppc", "paid", "paidsearch", "paid_search", "sem", "paid-search")
PAID_SOCIAL_MEDIUMS = ("paid_social", "paid-social", "paidsocial", "social_paid", "sponsored")
DISPLAY_MEDIUMS = ("display", "banner", "cpm", "programmatic", "retargeting")


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _matches(host: str, names: tuple[str, ...]) -> bool:
    return any(host.startswith(n) or ("." + n) in host or host == n.rstrip(".") for n in names)


def channel_infer(*, utm: dict[str, str], referrer: str = "", page_url: str = "") -> str:
    """The marketing channel a visit came from, by the usual reading of UTM tags and then the referrer."""
    medium = utm.get("utm_medium", "").lower()
    source = utm.get("utm_source", "").lower()
    social_source = _matches(source + ".", SOCIAL_SITES) or source in ("facebook", "linkedin", "twitter", "x", "instagram")
    if medium in PAID_SOCIAL_MEDIUMS or (medium in PAID_MEDIUMS and social_source):
        return "paid_social"
    if medium in PAID_MEDIUMS:
        return "paid_search"
    if medium in DISPLAY_MEDIUMS:
        return "display"
    if medium in ("email", "e-mail", "newsletter"):
        return "email"
    if medium in ("social", "organic_social", "social-media", "sm"):
        return "organic_social"
    if medium in ("webinar",):
        return "webinar"
    if medium in ("event", "events", "trade_show", "tradeshow"):
        return "events"
    if medium in ("referral",):
        return "referral"
    if medium in ("partner", "affiliate"):
        return "partner"
    if medium in ("organic", "seo"):
        return "organic_search"
    if medium or source:
        return "organic_social" if social_source else "other"
    ref_host = _host(referrer)
    if not ref_host or ref_host == _host(page_url):
        return "direct"
    if _matches(ref_host, SEARCH_ENGINES):
        return "organic_search"
    if _matches(ref_host, SOCIAL_SITES):
        return "organic_social"
    return "referral"


@dataclass(frozen=True)
class TrackEvent:
    """One touchpoint an outside system reports (an ad click, a webinar attendance, a badge scan, a call)."""

    kind: str
    occurred_at: dt.datetime
    email: str = ""
    phone: str = ""
    system: str = ""
    external_id: str = ""
    person: dict[str, str] = field(default_factory=dict)
    channel: str = ""
    campaign_ref: str = ""
    utm: dict[str, str] = field(default_factory=dict)
    url: str = ""
    referrer: str = ""
    properties: dict[str, Any] = field(default_factory=dict)


def _when(value: Any, *, name: str, now: dt.datetime) -> dt.datetime:
    if value in (None, ""):
        return now
    if not isinstance(value, str):
        raise ValidationFailed(f"{name} must be an ISO 8601 date-time text", field=name, value=value)
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(f"{name} {value!r} is not an ISO 8601 date-time", field=name, value=value) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if when > now + dt.timedelta(minutes=5):
        raise ValidationFailed(f"{name} {value!r} is in the future", field=name, value=value)
    return when


def _campaign_ref(value: Any, *, name: str) -> str:
    """A campaign's Tandem id (a number or its text) or external id; null for none."""
    if isinstance(value, bool) or not isinstance(value, str | int | None):
        raise ValidationFailed(f"{name} must be a campaign id or external id", field=name, value=value)
    return _text(value, name=name, limit=MAX_SHORT)


def track_events_clean(
    *, data: dict[str, Any], kinds: set[str], channels: set[str], now: dt.datetime
) -> list[TrackEvent]:
    """Check a tracking payload (one event, or {"events": [...]} of up to 1,000); all or nothing."""
    if "events" in data:
        items = data["events"]
        if not isinstance(items, list) or not items:
            raise ValidationFailed("events must be a non-empty list", field="events", value=type(items).__name__)
        if len(items) > MAX_EVENTS:
            raise ValidationFailed(
                f"a batch holds at most {MAX_EVENTS} events, this one has {len(items)}", field="events", value=len(items)
            )
        batch = True
    else:
        items, batch = [data], False
    out = []
    for i, item in enumerate(items):
        p = f"events[{i}]." if batch else ""
        if not isinstance(item, dict):
            raise ValidationFailed(f"{p or 'event'} must be an object", field=p.rstrip(".") or "body", value=item)

        def text(key: str, limit: int = MAX_SHORT, _item: dict[str, Any] = item, _p: str = p) -> str:
            # Text or null, as the endpoint's schema says: a number or a list is refused, not read as text.
            value = _item.get(key)
            if value is not None and not isinstance(value, str):
                raise ValidationFailed(f"{_p}{key} must be text", field=_p + key, value=value)
            return _text(value, name=_p + key, limit=limit)

        kind = text("kind")
        if kind not in kinds:
            raise ValidationFailed(
                f"{p}kind {kind!r} is not one of {', '.join(sorted(kinds))}", field=p + "kind", value=kind
            )
        email = text("email")
        if email:
            email = email_check(email, name=p + "email")
        system, external_id, phone = text("system"), text("external_id"), text("phone")
        if bool(system) != bool(external_id):
            missing = "system" if external_id else "external_id"
            raise ValidationFailed(
                f"{p}external_id and {p}system go together: {p}{missing} is missing", field=p + missing, value=""
            )
        if not (email or external_id or phone):
            raise ValidationFailed(
                f"{p}email is required (or external_id with system, or phone) to know whose touchpoint it is",
                field=p + "email",
                value="",
            )
        if phone and not (email or external_id) and (problem := phone_problem(phone)):
            raise ValidationFailed(
                f"{p}phone {phone!r} cannot say whose touchpoint it is: {problem}", field=p + "phone", value=phone
            )
        channel = text("channel")
        if channel and channel not in channels:
            raise ValidationFailed(
                f"{p}channel {channel!r} is not one of {', '.join(sorted(channels))}", field=p + "channel", value=channel
            )
        person_raw = {} if item.get("person") is None else item["person"]
        if not isinstance(person_raw, dict):
            raise ValidationFailed(f"{p}person must be an object", field=p + "person", value=person_raw)
        person = {}
        for key in ("first_name", "last_name", "company", "job_title"):
            if value := _text(person_raw.get(key), name=f"{p}person.{key}", limit=MAX_SHORT):
                person[key] = value
        props = {} if item.get("properties") is None else item["properties"]
        if not isinstance(props, dict):
            raise ValidationFailed(f"{p}properties must be an object", field=p + "properties", value=props)
        utm = {k: v for k in UTM_KEYS if (v := text(k, UTM_LIMITS.get(k, MAX_SHORT)))}
        out.append(
            TrackEvent(
                kind=kind,
                occurred_at=_when(item.get("occurred_at"), name=p + "occurred_at", now=now),
                email=email,
                phone=phone,
                system=system,
                external_id=external_id,
                person=person,
                channel=channel,
                campaign_ref=_campaign_ref(item.get("campaign_id"), name=p + "campaign_id"),
                utm=utm,
                url=text("url", MAX_TEXT),
                referrer=text("referrer", MAX_TEXT),
                properties=_json_clean(props, name=p + "properties"),
            )
        )
    return out
