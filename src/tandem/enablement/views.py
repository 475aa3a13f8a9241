"""Pages of enablement: library, asset, usage, gaps, personas, products, and the person-page panel."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.http import require_perm
from tandem.crm.identity import email_normalize_configured
from tandem.crm.models import Activity, Deal, Person
from tandem.crm.stages import CHOICES as STAGE_CHOICES
from tandem.enablement import selectors, services
from tandem.enablement.files import content_type_of
from tandem.enablement.models import AssetKind, ContentUse, Objection
from tandem.enablement.registry import RECORDED_ONLY
from tandem.users.access import access_allows, access_check, access_seen
from tandem.users.models import User

HELPED = {"yes": True, "no": False, "": None}


def _require_editor(request: HttpRequest) -> None:
    require_perm(
        request,
        allowed=services.user_can_edit_library(user=request.user),
        message="Only admins and marketing edit the content library, personas and products.",
    )


def _require_user(request: HttpRequest) -> None:
    require_perm(
        request,
        allowed=services.user_can_use_content(user=request.user),
        message="Viewers cannot send content or record its use.",
    )


def _id(raw: Any, *, field: str) -> int | None:
    text = str(raw or "").strip()
    if not text:
        return None
    if not text.isdigit() or not 0 < int(text) <= selectors.MAX_ID:
        raise ValidationFailed(f"'{field}' must be an id.", field=field, value=text)
    return int(text)


def _ids(request: HttpRequest, key: str) -> list[str]:
    return [v for v in request.POST.getlist(key) if v.strip()]


def _asset_form(request: HttpRequest) -> dict[str, Any]:
    post = request.POST
    return {
        "title": post.get("title", ""),
        "kind": post.get("kind", ""),
        "description": post.get("description", ""),
        "persona_id": post.get("persona_id") or None,
        "stage": post.get("stage", ""),
        "product_id": post.get("product_id") or None,
        "owner_id": post.get("owner_id") or None,
        "expires_on": post.get("expires_on") or None,
        "theme_ids": _ids(request, "theme_ids"),
        "campaign_ids": _ids(request, "campaign_ids"),
    }


def _choices() -> dict[str, Any]:
    from tandem.campaigns.models import Campaign

    return {
        "kinds": AssetKind.choices,
        "stages": STAGE_CHOICES,
        "personas": selectors.personas_list(),
        "products": selectors.products_list(),
        "themes": selectors.themes_live(),
        "campaigns": list(Campaign.objects.order_by("-started_on", "name")[:200]),
        "owners": list(User.objects.filter(is_active=True).order_by("username")),
    }


# --- library ----------------------------------------------------------------------------------------------


def _library_context(request: HttpRequest, filters: selectors.LibraryFilters) -> dict[str, Any]:
    assets = selectors.asset_library(user=request.user, filters=filters)
    usage = selectors.asset_usage_for(asset_ids=[a.pk for a in assets])
    return {
        "filters": filters,
        "rows": [(a, usage[a.pk]) for a in assets],
        "flagged": selectors.assets_flagged_for_owner(user=request.user),
        "can_edit": services.user_can_edit_library(user=request.user),
        "can_use": services.user_can_use_content(user=request.user),
        "today": selectors.today_local(),
        "tab": "library",
    } | _choices()


@login_required
@require_GET
def library(request: HttpRequest) -> HttpResponse:
    """Search and filter the content library; editors also add assets here."""
    try:
        filters = selectors.library_filters_parse(request.GET)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
        filters = selectors.LibraryFilters()
    context = _library_context(request, filters)
    if request.GET.get("add") == "1" and context["can_edit"]:
        # "Add it to the library" on the collateral board: the add form opens, filled from the suggestion.
        kind = request.GET.get("new_kind", "")
        context |= {
            "form_open": True,
            "form": {
                "title": request.GET.get("new_title", "")[:200],
                "kind": kind if kind in AssetKind.values else "",
                "description": request.GET.get("new_description", "")[:2000],
            },
        }
    return render(request, "enablement/library.html", context)


@login_required
@require_POST
def asset_new(request: HttpRequest) -> HttpResponse:
    """Add a link or an uploaded file to the library (admins and marketing)."""
    _require_editor(request)
    form = _asset_form(request)
    upload = request.FILES.get("file")
    try:
        asset = services.asset_create(by_user=request.user, url=request.POST.get("url", ""), upload=upload, **form)
    except TandemError as exc:
        context = _library_context(request, selectors.LibraryFilters()) | {
            "form_error": exc, "form": request.POST, "form_open": True,
        }  # fmt: skip
        return render(request, "enablement/library.html", context, status=exc.status_code)
    messages.success(request, f"Added “{asset.title}” to the library.")
    return redirect("enablement:asset", pk=asset.pk)


def _asset_or_404(request: HttpRequest, pk: int) -> Any:
    try:
        return selectors.asset_get(asset_id=pk, user=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
@require_GET
def asset_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One asset: its tags, usage and win rate with interval, latest uses; send it; editors edit it."""
    asset = _asset_or_404(request, pk)
    context = {
        "asset": asset,
        "usage": selectors.asset_usage_for(asset_ids=[asset.pk])[asset.pk],
        "uses": selectors.asset_uses_recent(asset_id=asset.pk, user=request.user),
        "can_edit": services.user_can_edit_library(user=request.user),
        "can_use": services.user_can_use_content(user=request.user),
        "send_delivery": services.asset_send_delivery(),
        "today": selectors.today_local(),
        "tab": "library",
    }
    if context["can_edit"]:
        context |= _choices()
    return render(request, "enablement/asset_detail.html", context)


@login_required
@require_POST
def asset_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change an asset's tags, expiry or link, or replace its file (admins and marketing)."""
    _require_editor(request)
    asset = _asset_or_404(request, pk)
    changes = _asset_form(request)
    if asset.url or request.POST.get("url"):
        changes["url"] = request.POST.get("url", asset.url)
    try:
        services.asset_update(asset=asset, by_user=request.user, upload=request.FILES.get("file"), **changes)
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Saved.")
    return redirect("enablement:asset", pk=pk)


@login_required
@require_GET
def asset_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    """Stream an uploaded file to a signed-in user, as an attachment under its cleaned original name."""
    asset = _asset_or_404(request, pk)
    if not asset.file:
        raise Http404("This asset is a link, not a file.")
    try:
        handle = default_storage.open(asset.file, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404("The file is missing from the upload folder.") from exc
    response = FileResponse(
        handle, as_attachment=True, filename=asset.original_name or f"asset-{asset.pk}", content_type=content_type_of(asset.file)
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


def _person_by_email(raw: str, user: Any) -> Person:
    key = email_normalize_configured(raw.strip())
    person = access_seen(Person.objects.all(), user=user).filter(email_normalized=key).first() if key else None
    if person is None:
        raise ValidationFailed("No person with that email address.", field="email", value=raw.strip() or None)
    return person


def _row(model: Any, raw: Any, *, field: str, label: str, user: Any) -> Any:
    """The row whose id the form sent, None for a blank field, ValidationFailed naming the field otherwise (also
    for a row out of the user's sight, so ids cannot be probed)."""
    row_id = _id(raw, field=field)
    if row_id is None:
        return None
    row = access_seen(model.objects.all(), user=user).filter(pk=row_id).first()
    if row is None:
        raise ValidationFailed(f"No such {label}.", field=field, value=row_id)
    return row


def _deal(raw: Any, user: Any) -> Deal | None:
    return _row(Deal, raw, field="deal_id", label="deal", user=user)  # type: ignore[no-any-return]


def _activity(raw: Any, user: Any) -> Activity | None:
    return _row(Activity, raw, field="activity_id", label="call or meeting", user=user)  # type: ignore[no-any-return]


def _panel(request: HttpRequest, person_id: int, *, status: int = 200, **extra: Any) -> HttpResponse:
    try:
        panel = selectors.person_enablement_panel(person_id=person_id, user=request.user)
    except NotFound as exc:  # missing, or out of the user's sight: the same answer
        raise Http404(exc.message) from exc
    context = {
        "panel": panel,
        # Sending and recording add to the person's record: offered to whoever may change this person.
        "can_use": services.user_can_use_content(user=request.user)
        and access_allows(panel.person, user=request.user, write=True),
        "can_edit": services.user_can_edit_library(user=request.user),
    } | extra
    return render(request, "enablement/_person_panel.html", context, status=status)


@login_required
@require_POST
def asset_send(request: HttpRequest, pk: int) -> HttpResponse:
    """Send an asset to a person (by person id or email): a content_sent touchpoint, a use and an event."""
    _require_user(request)
    asset = _asset_or_404(request, pk)
    person_id = None
    try:
        person_id = _id(request.POST.get("person_id"), field="person_id")
        person = (
            _row(Person, person_id, field="person_id", label="person", user=request.user)
            if person_id
            else _person_by_email(request.POST.get("email", ""), request.user)
        )
        # Sending adds to the person's record: refused (403) when the user may see the person but not change it.
        access_check(person, user=request.user, write=True)
        services.asset_send(
            asset=asset, person=person, by_user=request.user, deal=_deal(request.POST.get("deal_id"), request.user),
            note=request.POST.get("note", ""),
        )  # fmt: skip
    except TandemError as exc:
        if getattr(request, "htmx", False) and person_id:
            return _panel(request, person_id, status=exc.status_code, panel_error=exc.message)
        messages.error(request, exc.message)
        return redirect(request.POST.get("next") or reverse("enablement:asset", args=[pk]))
    # Says whether it went out by e-mail or was recorded only (no mail server configured).
    # "Sent" only when an e-mail really goes out; otherwise the rep must still send it themselves.
    if services.asset_send_delivery() == RECORDED_ONLY:
        done = f"Recorded “{asset.title}” as shared with {person}. Not e-mailed: no mail server is set up, so send it yourself."
    else:
        done = f"E-mailed “{asset.title}” to {person} with a tracked link."
    if getattr(request, "htmx", False) and person_id:
        return _panel(request, person_id, panel_done=done)
    messages.success(request, done)
    return redirect(request.POST.get("next") or reverse("enablement:asset", args=[pk]))


@login_required
@require_POST
def use_record(request: HttpRequest, person_id: int) -> HttpResponse:
    """Record which asset was used with this person (on a deal or a call) and whether it helped."""
    _require_user(request)
    person = access_seen(Person.objects.all(), user=request.user).filter(pk=person_id).first()
    if person is None:
        raise Http404("No such person.")
    # Recording a use adds to the person's record: the 403 page, before anything is written, for a user who may
    # see the person but not change it.
    access_check(person, user=request.user, write=True)
    try:
        asset_id = _id(request.POST.get("asset_id"), field="asset_id")
        if asset_id is None:
            raise ValidationFailed("Choose the asset you used.", field="asset_id", value=None)
        asset = selectors.asset_get(asset_id=asset_id, user=request.user)
        helped_raw = request.POST.get("helped", "")
        if helped_raw not in HELPED:
            raise ValidationFailed("'helped' is yes, no or not said.", field="helped", value=helped_raw)
        services.content_use_record(
            asset=asset, person=person, by_user=request.user, deal=_deal(request.POST.get("deal_id"), request.user),
            activity=_activity(request.POST.get("activity_id"), request.user), helped=HELPED[helped_raw],
            note=request.POST.get("note", ""),
        )  # fmt: skip
    except TandemError as exc:
        if getattr(request, "htmx", False):
            return _panel(request, person_id, status=exc.status_code, panel_error=exc.message)
        messages.error(request, exc.message)
        return redirect("crm:person", pk=person_id)
    if getattr(request, "htmx", False):
        return _panel(request, person_id, panel_done=f"Recorded “{asset.title}”.")
    messages.success(request, f"Recorded “{asset.title}”.")
    return redirect("crm:person", pk=person_id)


@login_required
@require_POST
def use_rate(request: HttpRequest, pk: int) -> HttpResponse:
    """Say whether a recorded use helped (the rep who used it, or an editor)."""
    _require_user(request)
    use = access_seen(ContentUse.objects.filter(pk=pk), user=request.user).select_related("asset").first()
    if use is None:
        raise Http404("No such use.")
    require_perm(
        request,
        allowed=use.used_by_id == request.user.pk or services.user_can_edit_library(user=request.user),
        message="Only the rep who used the content rates it.",
    )
    helped_raw = request.POST.get("helped", "")
    try:
        if helped_raw not in HELPED:
            raise ValidationFailed("'helped' is yes, no or not said.", field="helped", value=helped_raw)
        services.content_use_rate(use=use, helped=HELPED[helped_raw], by_user=request.user)
    except TandemError as exc:
        messages.error(request, exc.message)
    return redirect(request.POST.get("next") or reverse("enablement:asset", args=[use.asset_id]))


@login_required
@require_GET
def person_panel(request: HttpRequest, person_id: int) -> HttpResponse:
    """The person page's enablement panel (loaded lazily): persona talking points and suggested assets."""
    require_perm(request, "crm.view_person", message="You cannot see people.")
    try:
        return _panel(request, person_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


# --- usage and gaps ---------------------------------------------------------------------------------------


@login_required
@require_GET
def usage(request: HttpRequest) -> HttpResponse:
    """Every asset's uses, people, deals and the win rate of those deals (Wilson 95 %), against all deals."""
    report = selectors.content_usage_report()
    if not services.user_can_edit_library(user=request.user):
        today = selectors.today_local()
        report.rows = [(a, u) for a, u in report.rows if a.expires_on is None or a.expires_on >= today]
    return render(request, "enablement/usage.html", {"report": report, "tab": "usage"})


@login_required
@require_GET
def gaps(request: HttpRequest) -> HttpResponse:
    """Themes heard often that no unexpired asset answers, most lost deals first."""
    raw = request.GET.get("min", "3").strip() or "3"
    min_questions = int(raw) if raw.isdigit() and 0 < int(raw) <= 100_000 else 3
    context = {
        "gaps": selectors.content_gaps_report(min_questions=min_questions),
        "min_questions": min_questions,
        "can_edit": services.user_can_edit_library(user=request.user),
        "tab": "gaps",
    }
    return render(request, "enablement/gaps.html", context)


# --- personas and products --------------------------------------------------------------------------------


def _persona_form(request: HttpRequest) -> dict[str, Any]:
    import json

    post = request.POST
    raw_rules = post.get("rules", "").strip()
    try:
        rules = json.loads(raw_rules) if raw_rules else {}
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"The rules are not valid JSON ({exc.msg}, line {exc.lineno}).", field="rules", value=raw_rules[:60]) from exc
    return {
        "summary": post.get("summary", ""),
        "rules": rules,
        "priority": post.get("priority", "100") or "100",
        "is_active": post.get("is_active") == "on",
        "pains": post.get("pains", ""),
        "value_propositions": post.get("value_propositions", ""),
        "proof_points": post.get("proof_points", ""),
        "product_ids": _ids(request, "product_ids"),
    }


@login_required
def personas(request: HttpRequest) -> HttpResponse:
    """Personas in matching order; editors add one here."""
    context: dict[str, Any] = {
        "personas": [(p, selectors.persona_rules_text(persona=p)) for p in selectors.personas_list()],
        "products": selectors.products_list(),
        "can_edit": services.user_can_edit_library(user=request.user),
        "tab": "personas",
    }
    if request.method == "POST":
        _require_editor(request)
        try:
            persona = services.persona_create(name=request.POST.get("name", ""), by_user=request.user, **_persona_form(request))
        except TandemError as exc:
            context |= {"form_error": exc, "form": request.POST}
            return render(request, "enablement/personas.html", context, status=exc.status_code)
        messages.success(request, f"Added the persona “{persona.name}”.")
        return redirect("enablement:persona", pk=persona.pk)
    return render(request, "enablement/personas.html", context)


def _persona_or_404(pk: int) -> Any:
    try:
        return selectors.persona_get(persona_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


@login_required
def persona_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A persona's rules and talking points; editors change them and its objections here."""
    import json

    persona = _persona_or_404(pk)
    status = 200
    error = None
    if request.method == "POST":
        _require_editor(request)
        try:
            services.persona_update(persona=persona, by_user=request.user, name=request.POST.get("name", ""), **_persona_form(request))
        except TandemError as exc:
            error, status = exc, exc.status_code
        else:
            messages.success(request, "Saved.")
            return redirect("enablement:persona", pk=pk)
    context = {
        "persona": persona,
        "rules_text": selectors.persona_rules_text(persona=persona),
        "rules_json": request.POST.get("rules") if error else json.dumps(persona.rules, indent=2),
        "products": selectors.products_list(),
        "persona_products": {p.pk for p in persona.products.all()},
        "assets": list(persona.assets.order_by("title")[:50]),
        "can_edit": services.user_can_edit_library(user=request.user),
        "form_error": error,
        "tab": "personas",
    }
    return render(request, "enablement/persona_detail.html", context, status=status)


@login_required
@require_POST
def objection_add(request: HttpRequest, pk: int) -> HttpResponse:
    """Add an objection and its answer to a persona."""
    _require_editor(request)
    persona = _persona_or_404(pk)
    try:
        services.objection_add(
            persona=persona, objection=request.POST.get("objection", ""), answer=request.POST.get("answer", ""), by_user=request.user
        )
    except TandemError as exc:
        messages.error(request, exc.message)
    return redirect("enablement:persona", pk=pk)


@login_required
@require_POST
def objection_remove(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove an objection from its persona."""
    _require_editor(request)
    objection = Objection.objects.filter(pk=pk).first()
    if objection is None:
        raise Http404("No such objection.")
    persona_id = objection.persona_id
    services.objection_remove(objection=objection, by_user=request.user)
    return redirect("enablement:persona", pk=persona_id)


@login_required
def products(request: HttpRequest) -> HttpResponse:
    """What we sell and what it makes possible; editors add and change products here."""
    status = 200
    error = None
    if request.method == "POST":
        _require_editor(request)
        fields = {k: request.POST.get(k, "") for k in ("name", "summary", "possibilities")}
        try:
            product_id = _id(request.POST.get("product_id"), field="product_id")
            if product_id:
                services.product_update(product=selectors.product_get(product_id=product_id), by_user=request.user, **fields)
            else:
                services.product_create(by_user=request.user, **fields)
        except TandemError as exc:
            error, status = exc, exc.status_code
        else:
            messages.success(request, f"Saved “{fields['name'].strip()}”.")
            return redirect("enablement:products")
    context = {
        "products": selectors.products_list(),
        "can_edit": services.user_can_edit_library(user=request.user),
        "form_error": error,
        "form": request.POST if error else {},
        "tab": "products",
    }
    return render(request, "enablement/products.html", context, status=status)
