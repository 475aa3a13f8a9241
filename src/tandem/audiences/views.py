"""Audience pages: the list with live counts, the form in words with a live preview, one audience, its members
(pages) and the CSV exports."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from tandem.audiences import selectors, services
from tandem.audiences.models import Audience
from tandem.audiences.spec import GRADES, SEGMENT_FIELDS, SEGMENT_LABELS, TIERS, AudienceSpec
from tandem.campaigns.models import Campaign
from tandem.core.errors import NotFound, TandemError
from tandem.core.http import csv_response, param_choice, require_perm
from tandem.crm.stages import LABELS, Stage
from tandem.enablement.models import Persona
from tandem.feedback.models import Theme
from tandem.users.models import User

# Form inputs holding a list of values, per criterion type.
LIST_INPUTS = {
    "stage": "stages",
    "score_tier": "tiers",
    "fit_grade": "grades",
    "persona": "persona_ids",
    "theme": "theme_ids",
    "campaign": "campaign_ids",
    "owner": "owner_ids",
}
INT_TYPES = {"persona", "theme", "campaign", "owner"}


def _reader(request: HttpRequest) -> Any:
    return require_perm(request, "audiences.view_audience", action="see audiences")


def _can_edit(request: HttpRequest) -> bool:
    return bool(request.user.has_perm("audiences.change_audience"))


def _audience(pk: int) -> Audience:
    try:
        return selectors.audience_get(audience_id=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _ints(values: list[str]) -> list[Any]:
    # Not a number is passed on as typed: the spec refuses it, naming the field and the value.
    return [int(v) if v.strip().isdigit() else v for v in values if v.strip()]


def form_spec(data: QueryDict) -> dict[str, Any]:
    """The spec a submitted form describes: one criterion per group of boxes ticked (or values typed)."""
    criteria: list[dict[str, Any]] = []
    for kind, key in LIST_INPUTS.items():
        values: list[Any] = [v for v in data.getlist(key) if v.strip()]
        if not values:
            continue
        criterion: dict[str, Any] = {"type": kind, key: _ints(values) if kind in INT_TYPES else values}
        if kind in ("theme", "campaign"):
            days = data.get(f"{kind}_days", "").strip()
            criterion["days"] = (int(days) if days.isdigit() else days) if days else None
        criteria.append(criterion)
    segment_values = [v.strip() for v in data.get("segment_values", "").split(",") if v.strip()]
    if segment_values:
        criteria.append({"type": "segment", "field": data.get("segment_field", ""), "values": segment_values})
    return {"consent": data.get("consent", "email"), "match": data.get("match", "all"), "criteria": criteria}


def _form_values(spec: AudienceSpec | None) -> dict[str, Any]:
    """What the form shows for a stored spec (None when it holds two criteria of one type: the API's to edit)."""
    values: dict[str, Any] = {
        "consent": "email",
        "match": "all",
        "segment_field": "industry",
        "segment_values": "",
    }
    if spec is None:
        return values
    values.update(consent=spec.consent, match=spec.match)
    seen: set[str] = set()
    for c in spec.criteria:
        if c.type in seen:
            values["unrepresentable"] = True
        seen.add(c.type)
        if c.type == "segment":
            values.update(segment_field=c.field, segment_values=", ".join(c.values))
        else:
            values[LIST_INPUTS[c.type]] = list(c.values)
            if c.type in ("theme", "campaign"):
                values[f"{c.type}_days"] = c.days or ""
    return values


def _choices() -> dict[str, Any]:
    return {
        "stage_choices": [(s.value, LABELS[s]) for s in Stage],
        "tier_choices": TIERS,
        "grade_choices": GRADES,
        "segment_choices": [(f, SEGMENT_LABELS[f]) for f in SEGMENT_FIELDS],
        "personas": Persona.objects.filter(is_active=True).order_by("priority", "name"),
        "themes": Theme.objects.filter(retired_at__isnull=True).order_by("label"),
        "campaigns": Campaign.objects.order_by("-created_at", "name")[:500],
        "owners": User.objects.filter(is_active=True).order_by("username"),
    }


@login_required
def audience_list(request: HttpRequest) -> HttpResponse:
    _reader(request)
    return render(
        request,
        "audiences/list.html",
        {"rows": selectors.audience_list(), "can_edit": _can_edit(request)},
    )


def _form_page(
    request: HttpRequest, *, audience: Audience | None, values: dict[str, Any], error: Any = None
) -> HttpResponse:
    return render(
        request,
        "audiences/form.html",
        {"audience": audience, "v": values, "form_error": error, **_choices()},
        status=422 if error else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def audience_new(request: HttpRequest) -> HttpResponse:
    user = require_perm(request, "audiences.add_audience", action="create audiences")
    if request.method == "GET":
        return _form_page(request, audience=None, values=_form_values(None))
    spec = form_spec(request.POST)
    try:
        audience = services.audience_create(
            name=request.POST.get("name", ""),
            description=request.POST.get("description", ""),
            spec=spec,
            by_user=user,
        )
    except TandemError as exc:
        return _form_page(request, audience=None, values=_posted(request), error=exc)
    messages.success(request, f"Audience “{audience.name}” saved.")
    return redirect("audiences:detail", pk=audience.pk)


def _posted(request: HttpRequest) -> dict[str, Any]:
    values: dict[str, Any] = {
        k: request.POST.get(k, "") for k in ("name", "description", "consent", "match", "reason")
    }
    values.update(
        segment_field=request.POST.get("segment_field", ""),
        segment_values=request.POST.get("segment_values", ""),
    )
    for kind, key in LIST_INPUTS.items():
        got = request.POST.getlist(key)
        values[key] = _ints(got) if kind in INT_TYPES else got
    for kind in ("theme", "campaign"):
        values[f"{kind}_days"] = request.POST.get(f"{kind}_days", "")
    return values


@login_required
@require_http_methods(["GET", "POST"])
def audience_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_perm(request, "audiences.change_audience", action="change audiences")
    audience = _audience(pk)
    if request.method == "GET":
        values = _form_values(selectors.audience_spec(audience))
        values.update(name=audience.name, description=audience.description)
        return _form_page(request, audience=audience, values=values)
    keep_criteria = request.POST.get("keep_criteria") == "1"
    try:
        services.audience_update(
            audience=audience,
            by_user=user,
            reason=request.POST.get("reason", ""),
            name=request.POST.get("name", ""),
            description=request.POST.get("description", ""),
            spec=None if keep_criteria else form_spec(request.POST),
        )
    except TandemError as exc:
        values = _posted(request)
        if keep_criteria:
            values["unrepresentable"] = True
        return _form_page(request, audience=audience, values=values, error=exc)
    messages.success(request, "Audience saved.")
    return redirect("audiences:detail", pk=audience.pk)


@login_required
@require_POST
def audience_preview(request: HttpRequest) -> HttpResponse:
    """The live counts of the criteria being edited (the form asks on every change)."""
    _reader(request)
    try:
        spec = selectors.spec_check(spec=form_spec(request.POST))
        counts, error = selectors.spec_counts(spec=spec), None
    except TandemError as exc:
        counts, error = None, exc
    return render(request, "audiences/_preview.html", {"counts": counts, "error": error})


@login_required
def audience_detail(request: HttpRequest, pk: int) -> HttpResponse:
    _reader(request)
    audience = _audience(pk)
    spec = selectors.audience_spec(audience)
    return render(
        request,
        "audiences/detail.html",
        {
            "audience": audience,
            "sentences": selectors.spec_sentences(spec=spec),
            "counts": selectors.spec_counts(spec=spec),
            "versions": selectors.audience_versions(audience=audience),
            "can_edit": _can_edit(request),
            "can_delete": request.user.has_perm("audiences.delete_audience"),
        },
    )


@login_required
def audience_members(request: HttpRequest, pk: int) -> HttpResponse:
    _reader(request)
    audience = _audience(pk)
    try:
        page = selectors.audience_members_page(
            audience=audience, user=request.user, cursor=request.GET.get("cursor", "")
        )
    except TandemError:  # a cursor that is not one: the first page
        page = selectors.audience_members_page(audience=audience, user=request.user)
    counts = selectors.spec_counts(spec=selectors.audience_spec(audience))
    return render(request, "audiences/members.html", {"audience": audience, "page": page, "counts": counts})


@login_required
def audience_export(request: HttpRequest, pk: int) -> HttpResponse:
    _reader(request)
    audience = _audience(pk)
    fmt = param_choice(request, "format", tuple(selectors.EXPORT_FORMATS), "mailchimp")
    return csv_response(
        filename=f"audience-{audience.pk}-{fmt}.csv",
        columns=selectors.EXPORT_FORMATS[fmt],
        rows=selectors.audience_export_rows(audience=audience, fmt=fmt, user=request.user),
    )


@login_required
@require_POST
def audience_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = require_perm(request, "audiences.delete_audience", action="delete audiences")
    audience = _audience(pk)
    services.audience_delete(audience=audience, by_user=user, reason=request.POST.get("reason", ""))
    messages.success(request, f"Audience “{audience.name}” deleted.")
    return redirect("audiences:list")
