"""Pages for capture: the form builder, the hosted form page, and the ingestion journal."""

from __future__ import annotations

import uuid
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django import forms as djforms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from tandem.campaigns.models import Campaign
from tandem.capture.intake import selectors
from tandem.capture.intake.api import read_arrival
from tandem.capture.intake.services import (
    form_create,
    form_submission_receive,
    form_update,
    submission_replay,
    unknown_utm_campaign_create,
    unknown_utm_campaign_default_name,
    unknown_utm_ignore,
)
from tandem.capture.intake.validation import FIELD_TYPES, HONEYPOT, UTM_KEYS, utm_from_url
from tandem.capture.models import Form, Submission, SubmissionStatus, UnknownUtm
from tandem.core.errors import TandemError
from tandem.core.http import require_perm

STANDARD_FIELDS: list[dict[str, Any]] = [
    {"name": "email", "label": "Work email", "type": "email", "required": True},
    {"name": "first_name", "label": "First name", "type": "text", "required": True},
    {"name": "last_name", "label": "Last name", "type": "text", "required": False},
    {"name": "company", "label": "Company", "type": "text", "required": False},
    {"name": "job_title", "label": "Job title", "type": "text", "required": False},
    {
        "name": "consent_email",
        "label": "Yes, send me news and offers by email (you can unsubscribe at any time)",
        "type": "consent_email",
        "required": False,
    },
]
BLANK_ROWS = 3


def _with_perm(perm: str, message: str) -> Any:
    def decorate(view: Any) -> Any:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            require_perm(request, perm, message=message)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


class FormSettings(djforms.Form):
    name = djforms.CharField(max_length=200)
    campaign = djforms.ModelChoiceField(
        queryset=Campaign.objects.exclude(status=Campaign.Status.ARCHIVED).order_by("name"),
        required=False,
        empty_label="(none: UTM tags or the referrer decide)",
    )
    touchpoint_kind = djforms.ChoiceField(choices=Form.Kind.choices, initial=Form.Kind.FORM_SUBMIT)
    submit_label = djforms.CharField(max_length=60, initial="Send")
    thank_you_message = djforms.CharField(
        widget=djforms.Textarea(attrs={"rows": 2}), initial="Thank you! We will be in touch soon."
    )
    redirect_url = djforms.CharField(
        max_length=500, required=False, label="Redirect to (instead of the thank-you message)"
    )
    rate_limit_per_minute = djforms.IntegerField(
        min_value=1, max_value=1_000_000, initial=lambda: settings.CAPTURE_FORM_RATE_LIMIT
    )
    is_active = djforms.BooleanField(required=False, initial=True, label="Accepting submissions")


def _rows_from_post(post: Any) -> list[dict[str, Any]]:
    rows = []
    count = min(int(post.get("rows", "0") or 0), 100) if str(post.get("rows", "0")).isdigit() else 0
    for i in range(count):
        name = post.get(f"f-{i}-name", "").strip()
        label = post.get(f"f-{i}-label", "").strip()
        if not name and not label:
            continue
        rows.append(
            {
                "name": name,
                "label": label,
                "type": post.get(f"f-{i}-type", "text"),
                "required": post.get(f"f-{i}-required") == "on",
                "choices": post.get(f"f-{i}-choices", ""),
            }
        )
    return rows


def _editor_rows(fields: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for f in fields:
        choices = f.get("choices", "")
        rows.append({**f, "choices": ", ".join(choices) if isinstance(choices, list) else choices})
    rows.extend({"name": "", "label": "", "type": "text", "required": False, "choices": ""} for _ in range(BLANK_ROWS))
    return rows


def _error_row(error: dict[str, Any]) -> int | None:
    field = str(error.get("field", ""))
    if field.startswith("fields[") and "]" in field:
        index = field[len("fields[") : field.index("]")]
        return int(index) if index.isdigit() else None
    return None


@_with_perm("capture.view_form", "Your role may not see forms.")
def form_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "capture/intake/form_list.html",
        {"forms": selectors.form_list_with_counts(), "can_edit": request.user.has_perm("capture.add_form")},
    )


def _builder(request: HttpRequest, form: Form | None) -> HttpResponse:
    error: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        settings_form = FormSettings(request.POST)
        rows = _rows_from_post(request.POST)
        if settings_form.is_valid():
            data = settings_form.cleaned_data
            try:
                common = {
                    "name": data["name"],
                    "fields": rows,
                    "campaign": data["campaign"],
                    "touchpoint_kind": data["touchpoint_kind"],
                    "submit_label": data["submit_label"],
                    "thank_you_message": data["thank_you_message"],
                    "redirect_url": data["redirect_url"],
                    "rate_limit_per_minute": data["rate_limit_per_minute"],
                    "by_user": request.user,
                }
                if form is None:
                    saved = form_create(**common)
                else:
                    saved = form_update(form=form, is_active=data["is_active"], **common)
                return redirect("intake:form", saved.pk)
            except TandemError as exc:
                error = exc.as_dict()
                status = exc.status_code
        else:
            status = 422
    else:
        initial = {}
        if form is not None:
            initial = {
                "name": form.name,
                "campaign": form.campaign_id,
                "touchpoint_kind": form.touchpoint_kind,
                "submit_label": form.submit_label,
                "thank_you_message": form.thank_you_message,
                "redirect_url": form.redirect_url,
                "rate_limit_per_minute": form.rate_limit_per_minute,
                "is_active": form.is_active,
            }
        settings_form = FormSettings(initial=initial)
        rows = list(form.fields) if form is not None else [dict(f) for f in STANDARD_FIELDS]
    editor = _editor_rows(rows)
    bad_row = _error_row(error) if error else None
    return render(
        request,
        "capture/intake/form_builder.html",
        {
            "form_obj": form,
            "settings_form": settings_form,
            "rows": editor,
            "row_count": len(editor),
            "types": FIELD_TYPES,
            "error": error,
            "bad_row": bad_row,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@_with_perm("capture.add_form", "Your role may not create forms.")
def form_new(request: HttpRequest) -> HttpResponse:
    return _builder(request, None)


@require_http_methods(["GET", "POST"])
@_with_perm("capture.change_form", "Your role may not change forms.")
def form_edit(request: HttpRequest, form_id: int) -> HttpResponse:
    return _builder(request, selectors.form_get(form_id=form_id))


def _public_base(request: HttpRequest) -> str:
    return getattr(settings, "PUBLIC_URL", "") or request.build_absolute_uri("/").rstrip("/")


def form_snippet(*, form: Form, base_url: str) -> str:
    """The plain-HTML form to paste into any web page: it posts straight to Tandem, no external script."""
    from django.template.loader import render_to_string

    return render_to_string(
        "capture/intake/snippet.html",
        {
            "form": form,
            "action": base_url + reverse("intake:hosted", args=[form.public_key]),
            "fields": form.fields,
            "utm_keys": UTM_KEYS,
            "honeypot": HONEYPOT,
        },
    ).strip()


@_with_perm("capture.view_form", "Your role may not see forms.")
def form_detail(request: HttpRequest, form_id: int) -> HttpResponse:
    form = selectors.form_get(form_id=form_id)
    base = _public_base(request)
    return render(
        request,
        "capture/intake/form_detail.html",
        {
            "form_obj": form,
            "snippet": form_snippet(form=form, base_url=base),
            "hosted_url": base + reverse("intake:hosted", args=[form.public_key]),
            "json_url": base + reverse("api:form_submit", args=[form.public_key]),
            "recent": selectors.form_recent_submissions(form=form, user=request.user),
            "can_edit": request.user.has_perm("capture.change_form"),
        },
    )


def _hosted_context(
    request: HttpRequest, form: Form, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    referrer = request.META.get("HTTP_REFERER", "")
    page_url = request.build_absolute_uri()
    utm = {k: request.GET.get(k, "") for k in UTM_KEYS}
    if not any(utm.values()):
        utm = {k: utm_from_url(referrer).get(k, "") for k in UTM_KEYS}
    hidden = {**utm, "page_url": page_url, "referrer": referrer, "submission_id": str(uuid.uuid4())}
    if values:
        # The visit's tags and addresses carry over; the retry is a new submission with a new id.
        hidden.update(
            {k: values[k] for k in hidden if k != "submission_id" and isinstance(values.get(k), str) and values[k]}
        )
    return {
        "form": form,
        "fields": [{**f, "error": (errors or {}).get(f["name"], "")} for f in form.fields],
        "hidden": hidden,
        "values": values or {},
        "honeypot": HONEYPOT,
        "action": reverse("intake:hosted", args=[form.public_key]),
    }


def _embeddable(response: HttpResponse, form: Form | None) -> HttpResponse:
    """Let any site frame this page, and a sent form go on to the form's own redirect address.

    Customers put the hosted form in an <iframe> on their sites (docs/capture.md), which the site-wide
    Content-Security-Policy forbids (frame-ancestors 'none', form-action 'self'; docs/security.md). This is what
    django-csp's @csp_replace sets, here per form, since each form has its own redirect address.
    """
    policy: dict[str, list[str]] = {"frame-ancestors": ["*"]}
    if form is not None and form.redirect_url:
        target = urlsplit(form.redirect_url)
        policy["form-action"] = ["'self'", f"{target.scheme}://{target.netloc}"]
    response._csp_replace = policy  # type: ignore[attr-defined]  # read by csp.middleware.CSPMiddleware
    return response


@csrf_exempt
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def hosted(request: HttpRequest, key: str) -> HttpResponse:
    """The form's own page on Tandem; also where pasted snippets post to (so no CSRF token: it is public)."""
    if request.method == "GET":
        form = selectors.form_by_key(key=key)
        if form is None:
            raise Http404("No form has this address.")
        return _embeddable(render(request, "capture/intake/hosted.html", _hosted_context(request, form)), form)
    arrival = read_arrival(request, source=Submission.Source.FORM, key=key, limit=settings.CAPTURE_MAX_FORM_BYTES)
    receipt = form_submission_receive(arrival=arrival, expect="form")
    if receipt.status_code in (200, 201, 202):
        if receipt.redirect_url:
            return redirect(receipt.redirect_url)
        thanks = reverse("intake:thanks", args=[key])
        return redirect(thanks, permanent=False) if request.method == "POST" else redirect(thanks)
    form = receipt.form
    if form is None or receipt.status_code in (404, 409, 413, 415, 429):
        response = render(
            request,
            "capture/intake/hosted_error.html",
            {"form": form, "detail": receipt.body.get("detail", "This form cannot be sent."), "status": receipt.status_code},
            status=receipt.status_code,
        )
        if receipt.retry_after:
            response["Retry-After"] = str(receipt.retry_after)
        return _embeddable(response, form)
    values = {k: v for k, v in receipt.data.items() if isinstance(v, str)}
    context = _hosted_context(request, form, values, receipt.errors)
    context["detail"] = receipt.body.get("detail", "")
    return _embeddable(render(request, "capture/intake/hosted.html", context, status=receipt.status_code), form)


@xframe_options_exempt
def thanks(request: HttpRequest, key: str) -> HttpResponse:
    form = selectors.form_by_key(key=key)
    if form is None:
        raise Http404("No form has this address.")
    return _embeddable(render(request, "capture/intake/thanks.html", {"form": form}), form)


@_with_perm("capture.change_submission", "Only admins and marketing see the ingestion journal.")
def journal(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    status = status if status in SubmissionStatus.values else ""
    source = request.GET.get("source", "")
    source = source if source in Submission.Source.values else ""
    before = request.GET.get("before", "")
    rows, next_id = selectors.submission_page(
        status=status, source=source, before_id=int(before) if before.isdigit() else None
    )
    next_url = None
    if next_id:
        next_url = "?" + urlencode({k: v for k, v in {"status": status, "source": source, "before": next_id}.items() if v})
    return render(
        request,
        "capture/intake/journal.html",
        {
            "rows": rows,
            "status": status,
            "source": source,
            "statuses": SubmissionStatus.choices,
            "sources": Submission.Source.choices,
            "counts": selectors.submission_status_counts(),
            "next_url": next_url,
            "can_replay": request.user.has_perm("capture.change_submission"),
        },
    )


@_with_perm("capture.change_submission", "Only admins and marketing see the ingestion journal.")
def journal_entry(request: HttpRequest, submission_id: int) -> HttpResponse:
    sub = selectors.submission_get(submission_id=submission_id)
    return render(
        request,
        "capture/intake/journal_entry.html",
        {"sub": sub, "can_replay": request.user.has_perm("capture.change_submission")},
    )


@require_POST
@_with_perm("capture.change_submission", "Your role may not replay submissions.")
def journal_replay(request: HttpRequest, submission_id: int) -> HttpResponse:
    from django.contrib import messages

    sub = selectors.submission_get(submission_id=submission_id)
    try:
        submission_replay(submission=sub)
        sub.refresh_from_db()
        if sub.status == SubmissionStatus.PROCESSED:
            messages.success(request, f"Submission {sub.pk} replayed: processed.")
        else:
            messages.error(request, f"Submission {sub.pk} replayed: still {sub.status} — {sub.error}")
    except TandemError as exc:
        messages.error(request, exc.message)
    return redirect("intake:journal_entry", sub.pk)


# ---- unknown UTM tags ----


@_with_perm("capture.view_unknownutm", "Only admins and marketing review unknown UTM tags.")
def unknown_utm(request: HttpRequest) -> HttpResponse:
    from tandem.crm.channels import CHANNELS

    status = request.GET.get("status", UnknownUtm.Status.NEW)
    status = status if status in (*UnknownUtm.Status.values, "all") else UnknownUtm.Status.NEW
    rows = selectors.unknown_utm_list(status="" if status == "all" else status)
    return render(
        request,
        "capture/intake/unknown_utm.html",
        {
            "rows": [{"u": u, "name": unknown_utm_campaign_default_name(unknown=u)} for u in rows],
            "status": status,
            "statuses": UnknownUtm.Status.choices,
            "counts": selectors.unknown_utm_counts(),
            "channels": CHANNELS,
            "can_decide": request.user.has_perm("capture.change_unknownutm"),
            "can_create": request.user.has_perm("capture.change_unknownutm")
            and request.user.has_perm("campaigns.add_campaign"),
        },
    )


@require_POST
@_with_perm("capture.change_unknownutm", "Your role may not review unknown UTM tags.")
def unknown_utm_campaign(request: HttpRequest, unknown_id: int) -> HttpResponse:
    from django.contrib import messages

    require_perm(request, "campaigns.add_campaign", message="Your role may not create campaigns.")
    unknown = selectors.unknown_utm_get(unknown_id=unknown_id)
    try:
        campaign = unknown_utm_campaign_create(
            unknown=unknown,
            by_user=request.user,
            name=request.POST.get("name", ""),
            channel=request.POST.get("channel", ""),
        )
        messages.success(request, f"utm_campaign {unknown.value!r} now counts for campaign {campaign.name!r}.")
    except TandemError as exc:
        messages.error(request, exc.message)
    return redirect("intake:unknown_utm")


@require_POST
@_with_perm("capture.change_unknownutm", "Your role may not review unknown UTM tags.")
def unknown_utm_ignore_view(request: HttpRequest, unknown_id: int) -> HttpResponse:
    from django.contrib import messages

    unknown = selectors.unknown_utm_get(unknown_id=unknown_id)
    try:
        unknown_utm_ignore(unknown=unknown, by_user=request.user)
        messages.success(request, f"utm_campaign {unknown.value!r} ignored.")
    except TandemError as exc:
        messages.error(request, exc.message)
    return redirect("intake:unknown_utm")
