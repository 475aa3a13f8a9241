"""Every write of enablement: products, personas and objections, assets (files and links), sends and uses."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import mail
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile as Upload
from django.db import IntegrityError, transaction
from django.db.models import Model as _Model
from django.utils import timezone

from tandem.campaigns.models import Campaign
from tandem.campaigns.services import touchpoint_record
from tandem.core.bulk import chunked
from tandem.core.erasure import rows_redact
from tandem.core.errors import NotAllowed, ValidationFailed
from tandem.core.events import event_record
from tandem.core.links import absolute_url
from tandem.crm.models import Activity, Deal, Person
from tandem.crm.stages import Stage
from tandem.enablement import files
from tandem.enablement.matching import rules_parse
from tandem.enablement.models import Asset, AssetKind, ContentUse, DealProduct, Objection, Persona, Product
from tandem.enablement.registry import send_delivery_current, send_delivery_words
from tandem.feedback.models import Theme
from tandem.users.models import Role, User

# Who may send content and record its use: everyone who talks to prospects or equips those who do.
CONTENT_USER_ROLES = frozenset({Role.ADMIN, Role.MARKETING, Role.SALES_REP, Role.SALES_MANAGER})
SEND_CHANNEL = "outbound"


def user_can_edit_library(*, user: Any) -> bool:
    """Admins and marketing (anyone with the change permission) edit products, personas and assets."""
    return bool(getattr(user, "is_authenticated", False) and user.has_perm("enablement.change_asset"))


def user_can_use_content(*, user: Any) -> bool:
    """Reps, managers, marketing and admins send content and record its use; viewers only look."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or getattr(user, "role", "") in CONTENT_USER_ROLES)


def _text(value: Any, *, field: str, max_length: int, required: bool = False) -> str:
    text = "" if value is None else str(value).strip()
    if "\x00" in text:
        raise ValidationFailed(f"'{field}' must not contain NUL characters.", field=field, value=text.replace("\x00", "\\0"))
    if required and not text:
        raise ValidationFailed(f"'{field}' is required.", field=field, value=value)
    if len(text) > max_length:
        raise ValidationFailed(f"'{field}' is longer than {max_length} characters.", field=field, value=text[:40] + "…")
    return text


def _long_text(value: Any, *, field: str) -> str:
    return _text(value, field=field, max_length=20_000)


# --- products ---------------------------------------------------------------------------------------------


def _product_fields(changes: dict[str, Any], *, exclude_pk: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "name" in changes:
        name = _text(changes["name"], field="name", max_length=120, required=True)
        clash = Product.objects.filter(name__iexact=name).exclude(pk=exclude_pk or 0).exists()
        if clash:
            raise ValidationFailed(f"A product named '{name}' exists already.", field="name", value=name)
        out["name"] = name
    for key in ("summary", "possibilities"):
        if key in changes:
            out[key] = _long_text(changes[key], field=key)
    unknown = sorted(set(changes) - {"name", "summary", "possibilities"})
    if unknown:
        raise ValidationFailed("Unknown product field.", field=unknown[0], value=changes[unknown[0]])
    return out


@transaction.atomic
def product_create(*, name: str, summary: str = "", possibilities: str = "", by_user: Any = None) -> Product:
    """Create a product (what we sell) with what it makes possible, one possibility per line."""
    fields = _product_fields({"name": name, "summary": summary, "possibilities": possibilities}, exclude_pk=None)
    try:
        product = Product.objects.create(**fields)
    except IntegrityError as exc:
        raise ValidationFailed(f"A product named '{fields['name']}' exists already.", field="name", value=name) from exc
    event_record(kind="enablement.product_created", subject=product, actor=by_user, data={"name": product.name})
    return product


@transaction.atomic
def product_update(*, product: Product, by_user: Any = None, **changes: Any) -> Product:
    """Change a product's name, summary or possibilities."""
    fields = _product_fields(changes, exclude_pk=product.pk)
    before = {k: getattr(product, k) for k in fields}
    for key, value in fields.items():
        setattr(product, key, value)
    product.save()
    changed = {k: [before[k], v] for k, v in fields.items() if before[k] != v}
    if changed:
        event_record(kind="enablement.product_updated", subject=product, actor=by_user, data={"changed": changed})
    return product


def deal_products_set_bulk(*, lines: Sequence[DealProduct]) -> int:
    """Make the named deals' product lines exactly these (unsaved rows; imports): insert, update, remove in bulk.

    Returns how many lines changed, so a loader can tell an unchanged re-import (0); the caller records the event.
    """
    deal_ids = sorted({line.deal_id for line in lines})
    stored: dict[tuple[int, int], DealProduct] = {}
    for chunk in chunked(deal_ids):
        for row in DealProduct.objects.filter(deal_id__in=chunk):
            stored[(row.deal_id, row.product_id)] = row
    wanted = {(line.deal_id, line.product_id): line for line in lines}
    new = [line for key, line in wanted.items() if key not in stored]
    changed = []
    for key, line in wanted.items():
        had = stored.get(key)
        if had is not None and (had.quantity, had.unit_price) != (line.quantity, line.unit_price):
            had.quantity, had.unit_price = line.quantity, line.unit_price
            changed.append(had)
    gone = [row.pk for key, row in stored.items() if key not in wanted]
    with transaction.atomic():
        DealProduct.objects.bulk_create(new, batch_size=2000)
        DealProduct.objects.bulk_update(changed, ["quantity", "unit_price"], batch_size=1000)
        for chunk in chunked(gone):
            DealProduct.objects.filter(pk__in=chunk).delete()
    return len(new) + len(changed) + len(gone)


# --- personas ---------------------------------------------------------------------------------------------

PERSONA_FIELDS = ("name", "summary", "rules", "priority", "is_active", "pains", "value_propositions", "proof_points")


def _priority(value: Any) -> int:
    if isinstance(value, bool):
        raise ValidationFailed("'priority' is a whole number from 0 to 1000.", field="priority", value=value)
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError) as exc:
        raise ValidationFailed("'priority' is a whole number from 0 to 1000.", field="priority", value=value) from exc
    if not 0 <= number <= 1000:
        raise ValidationFailed("'priority' is a whole number from 0 to 1000.", field="priority", value=value)
    return number


def _persona_fields(changes: dict[str, Any], *, exclude_pk: int | None) -> dict[str, Any]:
    unknown = sorted(set(changes) - set(PERSONA_FIELDS) - {"product_ids"})
    if unknown:
        raise ValidationFailed("Unknown persona field.", field=unknown[0], value=changes[unknown[0]])
    out: dict[str, Any] = {}
    if "name" in changes:
        name = _text(changes["name"], field="name", max_length=120, required=True)
        if Persona.objects.filter(name__iexact=name).exclude(pk=exclude_pk or 0).exists():
            raise ValidationFailed(f"A persona named '{name}' exists already.", field="name", value=name)
        out["name"] = name
    for key in ("summary", "pains", "value_propositions", "proof_points"):
        if key in changes:
            out[key] = _long_text(changes[key], field=key)
    if "rules" in changes:
        out["rules"] = rules_parse(changes["rules"]).to_dict()
    if "priority" in changes:
        out["priority"] = _priority(changes["priority"])
    if "is_active" in changes:
        if not isinstance(changes["is_active"], bool):
            raise ValidationFailed("'is_active' is true or false.", field="is_active", value=changes["is_active"])
        out["is_active"] = changes["is_active"]
    return out


def _products(ids: Sequence[Any] | None) -> list[Product] | None:
    if ids is None:
        return None
    wanted = _ids(ids, field="product_ids")
    found = list(Product.objects.filter(pk__in=wanted))
    missing = sorted(set(wanted) - {p.pk for p in found})
    if missing:
        raise ValidationFailed("No such product.", field="product_ids", value=missing[0])
    return found


def _ids(values: Sequence[Any], *, field: str) -> list[int]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise ValidationFailed(f"'{field}' must be a list of ids.", field=field, value=values)
    out = []
    for value in values:
        try:
            number = int(value)
        except (TypeError, ValueError) as exc:
            raise ValidationFailed(f"'{field}' must be a list of ids.", field=field, value=value) from exc
        if isinstance(value, bool) or number <= 0 or number > 2**62:
            raise ValidationFailed(f"'{field}' must be a list of ids.", field=field, value=value)
        out.append(number)
    return sorted(set(out))


@transaction.atomic
def persona_create(*, name: str, by_user: Any = None, product_ids: Sequence[Any] | None = None, **fields: Any) -> Persona:
    """Create a persona: who it is (matching rules on profile fields) and how we help (talking points)."""
    values = _persona_fields({"name": name, **fields}, exclude_pk=None)
    products = _products(product_ids)
    try:
        persona = Persona.objects.create(**values)
    except IntegrityError as exc:
        raise ValidationFailed(f"A persona named '{values['name']}' exists already.", field="name", value=name) from exc
    if products:
        persona.products.set(products)
    event_record(kind="enablement.persona_created", subject=persona, actor=by_user, data={"name": persona.name})
    return persona


@transaction.atomic
def persona_update(*, persona: Persona, by_user: Any = None, **changes: Any) -> Persona:
    """Change a persona's rules, priority or talking points; product_ids replaces its products."""
    product_ids = changes.pop("product_ids", None)
    values = _persona_fields(changes, exclude_pk=persona.pk)
    products = _products(product_ids)
    before = {k: getattr(persona, k) for k in values}
    for key, value in values.items():
        setattr(persona, key, value)
    persona.save()
    changed: dict[str, Any] = {k: [before[k], v] for k, v in values.items() if before[k] != v}
    if products is not None:
        old = sorted(persona.products.values_list("pk", flat=True))
        new = sorted(p.pk for p in products)
        if old != new:
            persona.products.set(products)
            changed["product_ids"] = [old, new]
    if changed:
        event_record(kind="enablement.persona_updated", subject=persona, actor=by_user, data={"changed": changed})
    return persona


@transaction.atomic
def objection_add(*, persona: Persona, objection: str, answer: str, by_user: Any = None) -> Objection:
    """Add an objection this persona raises with the answer to give."""
    text = _text(objection, field="objection", max_length=300, required=True)
    reply = _text(answer, field="answer", max_length=5000, required=True)
    last = persona.objections.order_by("-position").values_list("position", flat=True).first()
    row = Objection.objects.create(persona=persona, objection=text, answer=reply, position=(last or 0) + 1)
    event_record(kind="enablement.objection_added", subject=persona, actor=by_user, data={"objection_id": row.pk, "objection": text})
    return row


@transaction.atomic
def objection_remove(*, objection: Objection, by_user: Any = None) -> None:
    """Remove an objection from its persona."""
    persona = objection.persona
    data = {"objection_id": objection.pk, "objection": objection.objection}
    objection.delete()
    event_record(kind="enablement.objection_removed", subject=persona, actor=by_user, data=data)


# --- assets -----------------------------------------------------------------------------------------------

ASSET_FIELDS = (
    "title", "description", "kind", "url", "persona_id", "stage", "product_id", "owner_id", "expires_on",
    "theme_ids", "campaign_ids",
)  # fmt: skip


def _url(value: Any) -> str:
    text = _text(value, field="url", max_length=2000)
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in text):
        raise ValidationFailed("A link must be a full http:// or https:// address.", field="url", value=text)
    return text


def _fk(model: Any, value: Any, *, field: str) -> Any:
    if value in (None, "", 0, "0"):
        return None
    ids = _ids([value], field=field)
    row = model.objects.filter(pk=ids[0]).first()
    if row is None:
        raise ValidationFailed(f"No such {field.removesuffix('_id')}.", field=field, value=value)
    return row


def _date(value: Any, *, field: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ValidationFailed(f"'{field}' is a date (YYYY-MM-DD).", field=field, value=value) from exc


def _asset_fields(changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    unknown = sorted(set(changes) - set(ASSET_FIELDS))
    if unknown:
        raise ValidationFailed("Unknown asset field.", field=unknown[0], value=changes[unknown[0]])
    out: dict[str, Any] = {}
    m2m: dict[str, list[Any]] = {}
    if "title" in changes:
        out["title"] = _text(changes["title"], field="title", max_length=200, required=True)
    if "description" in changes:
        out["description"] = _long_text(changes["description"], field="description")
    if "kind" in changes:
        kind = str(changes["kind"] or "").strip()
        if kind not in AssetKind.values:
            raise ValidationFailed(f"Unknown asset type; use one of {', '.join(AssetKind.values)}.", field="kind", value=kind or None)
        out["kind"] = kind
    if "url" in changes:
        out["url"] = _url(changes["url"])
    if "stage" in changes:
        stage = str(changes["stage"] or "").strip()
        if stage and stage not in {s.value for s in Stage}:
            raise ValidationFailed("Unknown lifecycle stage.", field="stage", value=stage)
        out["stage"] = stage
    if "persona_id" in changes:
        out["persona"] = _fk(Persona, changes["persona_id"], field="persona_id")
    if "product_id" in changes:
        out["product"] = _fk(Product, changes["product_id"], field="product_id")
    if "owner_id" in changes:
        out["owner"] = _fk(User, changes["owner_id"], field="owner_id")
    if "expires_on" in changes:
        out["expires_on"] = _date(changes["expires_on"], field="expires_on")
    for key, model in (("theme_ids", Theme), ("campaign_ids", Campaign)):
        if key in changes and changes[key] is not None:
            wanted = _ids(changes[key], field=key)
            found = list(model.objects.filter(pk__in=wanted))
            missing = sorted(set(wanted) - {r.pk for r in found})
            if missing:
                raise ValidationFailed(f"No such {key.removesuffix('_ids')}.", field=key, value=missing[0])
            m2m[key] = found
    return out, m2m


def _file_save(upload: Upload) -> tuple[str, files.CheckedFile]:
    size = upload.size or 0
    checked = files.upload_check(
        filename=upload.name or "", stream=upload,  # type: ignore[arg-type]  # a file-like, as zipfile wants
        size=size, max_bytes=settings.ENABLEMENT_MAX_UPLOAD_BYTES,
    )  # fmt: skip
    wanted = files.stored_name(extension=checked.extension)
    saved = default_storage.save(wanted, File(upload, name=wanted))  # type: ignore[arg-type]
    # The generated name is never taken, but the storage is the last word on the name; it must be ours.
    if saved != wanted:
        default_storage.delete(saved)
        raise NotAllowed("The file could not be stored under its generated name; try again.", field="file", value=None)
    return saved, checked


def _file_delete_quietly(name: str) -> None:
    # A leftover file is harmless; a failed request is not.
    with contextlib.suppress(OSError):
        default_storage.delete(name)


def _m2m_set(asset: Asset, m2m: dict[str, list[Any]]) -> dict[str, list[list[int]]]:
    changed: dict[str, list[list[int]]] = {}
    for key, rows in m2m.items():
        manager = asset.themes if key == "theme_ids" else asset.campaigns
        old = sorted(manager.values_list("pk", flat=True))
        new = sorted(r.pk for r in rows)
        if old != new:
            manager.set(rows)
            changed[key] = [old, new]
    return changed


def asset_create(
    *, title: str, kind: str, by_user: Any = None, url: str = "", upload: Upload | None = None, **fields: Any
) -> Asset:
    """Add an asset to the library: a link (url) or an uploaded file, checked for type, content and size."""
    values, m2m = _asset_fields({"title": title, "kind": kind, "url": url, **fields})
    if bool(values["url"]) == (upload is not None):
        raise ValidationFailed("An asset is either a link (url) or an uploaded file: give exactly one.", field="url", value=url or None)
    if values.get("owner") is None:  # the person who adds an asset owns it unless someone else is named
        values["owner"] = by_user if getattr(by_user, "pk", None) else None
    stored = ""
    if upload is not None:
        stored, checked = _file_save(upload)
        values |= {
            "file": stored, "original_name": checked.original_name, "content_type": checked.content_type,
            "size_bytes": checked.size,
        }  # fmt: skip
    try:
        with transaction.atomic():
            asset = Asset.objects.create(**values)
            _m2m_set(asset, m2m)
            event_record(
                kind="enablement.asset_created",
                subject=asset,
                actor=by_user,
                data={"title": asset.title, "kind": asset.kind, "file": asset.original_name, "url": asset.url},
            )
    except BaseException:
        if stored:
            _file_delete_quietly(stored)
        raise
    return asset


def asset_update(*, asset: Asset, by_user: Any = None, upload: Upload | None = None, **changes: Any) -> Asset:
    """Change an asset's tags, expiry, owner, title, link, or replace its file."""
    values, m2m = _asset_fields(changes)
    if upload is not None and values.get("url"):
        raise ValidationFailed("An asset is either a link (url) or an uploaded file: give exactly one.", field="url", value=values["url"])
    old_file = asset.file
    if values.get("url"):  # a file asset becomes a link; its file goes once the change is committed
        values |= {"file": "", "original_name": "", "content_type": "", "size_bytes": 0}
    elif "url" in values and not asset.file and upload is None:
        raise ValidationFailed("A link asset needs its url.", field="url", value=None)
    stored = ""
    if upload is not None:
        stored, checked = _file_save(upload)
        values |= {
            "file": stored, "original_name": checked.original_name, "content_type": checked.content_type,
            "size_bytes": checked.size, "url": "",
        }  # fmt: skip
    if "expires_on" in values and values["expires_on"] != asset.expires_on:
        values["expiry_notified_on"] = None
    before = {k: getattr(asset, k) for k in values}
    try:
        with transaction.atomic():
            for key, value in values.items():
                setattr(asset, key, value)
            asset.save()
            changed: dict[str, Any] = {
                k: [str(before[k]) if before[k] is not None else None, str(v) if v is not None else None]
                for k, v in values.items()
                if before[k] != v
            }
            changed |= _m2m_set(asset, m2m)
            if changed:
                event_record(kind="enablement.asset_updated", subject=asset, actor=by_user, data={"changed": changed})
    except BaseException:
        if stored:
            _file_delete_quietly(stored)
        raise
    if old_file and asset.file != old_file:
        transaction.on_commit(lambda: _file_delete_quietly(old_file))
    return asset


def _expired(asset: Asset, today: dt.date) -> bool:
    return asset.expires_on is not None and asset.expires_on < today


def _deal_and_activity(person: Person, deal: Deal | None, activity: Activity | None) -> None:
    if deal is not None and deal.person_id != person.pk:
        raise ValidationFailed("That deal belongs to someone else.", field="deal_id", value=deal.pk)
    if activity is not None and activity.person_id != person.pk:
        raise ValidationFailed("That call or meeting is with someone else.", field="activity_id", value=activity.pk)


@transaction.atomic
def asset_send(
    *,
    asset: Asset,
    person: Person,
    by_user: Any = None,
    deal: Deal | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> ContentUse:
    """A rep sends an asset to a person: a content_sent touchpoint on the person, a use row and an event; it is
    e-mailed too when an integration delivers sends (enablement/registry.py), else recorded only."""
    moment = at or timezone.now()
    if _expired(asset, timezone.localdate(moment)):
        raise NotAllowed(f"'{asset.title}' expired on {asset.expires_on:%Y-%m-%d}; it can no longer be sent.", field="asset_id", value=asset.pk)
    _deal_and_activity(person, deal, None)
    text = _text(note, field="note", max_length=2000)
    delivery = send_delivery_current()
    if delivery is not None:  # refused before anything is written (no e-mail consent, no address)
        delivery.check(asset=asset, person=person)
    touchpoint = touchpoint_record(
        person=person,
        kind="content_sent",
        channel=SEND_CHANNEL,
        occurred_at=moment,
        url=asset.url or f"asset:{asset.pk}",
        custom_fields={"asset_id": asset.pk, "asset_title": asset.title},
        update_latest=False,
    )
    use = ContentUse.objects.create(
        asset=asset, person=person, deal=deal, how=ContentUse.How.SENT, note=text,
        used_by=by_user if getattr(by_user, "pk", None) else None, used_at=moment,
    )  # fmt: skip
    event_record(
        kind="enablement.asset_sent",
        subject=person,
        actor=by_user,
        reason=text,
        occurred_at=moment,
        data={
            "asset_id": asset.pk, "title": asset.title, "touchpoint_id": touchpoint.pk, "use_id": use.pk,
            "deal_id": deal.pk if deal else None, "delivery": send_delivery_words(delivery),
        },
    )  # fmt: skip
    if delivery is not None:
        delivery.deliver(use=use, by_user=by_user)
    return use


def asset_send_delivery() -> str:
    """What a send does now, in words: e-mailed with a tracked link, or recorded only, not e-mailed."""
    return send_delivery_words(send_delivery_current())


@transaction.atomic
def content_use_record(
    *,
    asset: Asset,
    person: Person,
    by_user: Any = None,
    deal: Deal | None = None,
    activity: Activity | None = None,
    helped: bool | None = None,
    note: str = "",
    at: dt.datetime | None = None,
) -> ContentUse:
    """Record that an asset was used with a person (on a deal or a call) and whether it helped."""
    if helped is not None and not isinstance(helped, bool):
        raise ValidationFailed("'helped' is yes, no or not said.", field="helped", value=helped)
    _deal_and_activity(person, deal, activity)
    if deal is None and activity is not None and activity.deal_id:
        deal = activity.deal
    moment = at or (activity.occurred_at if activity is not None else timezone.now())
    use = ContentUse.objects.create(
        asset=asset, person=person, deal=deal, activity=activity, how=ContentUse.How.USED, helped=helped,
        note=_text(note, field="note", max_length=2000), used_by=by_user if getattr(by_user, "pk", None) else None,
        used_at=moment,
    )  # fmt: skip
    event_record(
        kind="enablement.content_used",
        subject=person,
        actor=by_user,
        occurred_at=moment,
        data={"asset_id": asset.pk, "use_id": use.pk, "deal_id": use.deal_id, "activity_id": use.activity_id, "helped": helped},
    )
    return use


@transaction.atomic
def content_use_rate(*, use: ContentUse, helped: bool | None, by_user: Any = None) -> ContentUse:
    """Say (or change) whether a recorded use helped."""
    if helped is not None and not isinstance(helped, bool):
        raise ValidationFailed("'helped' is yes, no or not said.", field="helped", value=helped)
    before = use.helped
    if before != helped:
        use.helped = helped
        use.save(update_fields=["helped"])
        event_record(kind="enablement.content_use_rated", subject=use, actor=by_user, data={"helped": [before, helped]})
    return use



def _expiry_mails_after_commit(*, by_owner: dict[int, list[Asset]]) -> None:
    owners = dict(User.objects.filter(pk__in=list(by_owner), is_active=True).exclude(email="").values_list("pk", "email"))

    def send() -> None:
        with mail.get_connection(fail_silently=False) as connection:
            for owner_id, assets in sorted(by_owner.items()):
                if owner_id not in owners:
                    continue
                lines = [f"- {a.title} (expired after {a.expires_on:%Y-%m-%d}): {absolute_url(f'/enablement/assets/{a.pk}/')}" for a in assets]
                body = (
                    "These assets of yours have expired; reps no longer see them. Renew the date or replace them:\n\n"
                    + "\n".join(lines)
                    + "\n"
                )
                subject = f"{len(assets)} of your assets expired" if len(assets) > 1 else f"Expired: {assets[0].title}"
                try:
                    mail.EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [owners[owner_id]], connection=connection).send()
                except (OSError, mail.BadHeaderError):  # an unreachable mail server must not undo the flags
                    continue

    transaction.on_commit(send)


@transaction.atomic
def assets_expiry_notify(*, today: dt.date | None = None) -> int:
    """Tell owners, once per expiry date, that their assets expired: an event per asset and one email per owner."""
    day = today or timezone.localdate()
    assets = list(
        Asset.objects.select_for_update()
        .filter(expires_on__lt=day, expiry_notified_on__isnull=True)
        .order_by("owner_id", "expires_on", "id")
    )
    by_owner: dict[int, list[Asset]] = {}
    for asset in assets:
        event_record(
            kind="enablement.asset_expired",
            subject=asset,
            rule="expiry",
            data={"expires_on": asset.expires_on.isoformat() if asset.expires_on else None, "owner_id": asset.owner_id},
        )
        if asset.owner_id:
            by_owner.setdefault(asset.owner_id, []).append(asset)
    Asset.objects.filter(pk__in=[a.pk for a in assets]).update(expiry_notified_on=day)
    if by_owner:
        _expiry_mails_after_commit(by_owner=by_owner)
    return len(assets)


# ---- personal data (tandem.privacy): erasing one person's content uses ----


def content_uses_erase_person(*, person_id: int, needles: Collection[str]) -> int:
    """Keep the uses of content with a person (win rates count them) without the note written about them."""
    return rows_redact(rows=ContentUse.objects.filter(person_id=person_id), needles=needles, blank={"note": ""})


def enablement_restore_bulk(
    *, model: type[_Model], columns: Sequence[str], rows: Sequence[Sequence[Any]], replace: bool = False
) -> int:
    """Insert a backup's rows of one of this app's tables as they are, ids included (the bundle restore)."""
    from tandem.core.bulk import rows_restore

    return rows_restore(owner="enablement", model=model, columns=columns, rows=rows, replace=replace)
