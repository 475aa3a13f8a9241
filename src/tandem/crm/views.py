"""People pages: the list (search, filters, keyset pages; HTMX swaps the table), the person page, duplicates
and merging, and the lost-reason taxonomy."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from tandem.core.errors import NotFound, TandemError
from tandem.core.http import csv_stream_response, require_perm
from tandem.crm import selectors
from tandem.crm.activities.views import activity_panel_context
from tandem.crm.channels import CHANNELS
from tandem.crm.models import LostReason, Person
from tandem.crm.services import (
    PERSON_EDITABLE,
    deal_close,
    deal_create,
    lost_reason_create,
    lost_reason_rename,
    lost_reason_set_active,
    people_export_record,
    person_change_stage,
    person_create,
    person_merge,
    person_update,
)
from tandem.crm.stages import CHOICES as STAGE_CHOICES
from tandem.crm.stages import INITIAL, LABELS, Stage, can_move
from tandem.users.access import access_allows, access_check, owner_choices, owner_for
from tandem.users.selectors import user_owner_options

FILTER_PARAMS = ("q", "stage", "owner", "channel")


def _get(select: Any, *, write: bool = False, **kwargs: Any) -> Any:
    # Selectors raise NotFound with a message naming the id (or one out of the user's sight); the 404 page shows it.
    # With `write`, a record the user may see but not change is refused with the 403 page.
    try:
        record = select(**kwargs)
        return access_check(record, user=kwargs["user"], write=True) if write else record
    except NotFound as exc:
        raise Http404(exc.message) from None


def _owner_choices(user: Any) -> list[Any]:
    return owner_choices(user, user_owner_options())


def _page_url(filters: dict[str, str], cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = {k: v for k, v in filters.items() if v}
    query["cursor"] = cursor
    return f"{reverse('crm:people')}?{urlencode(query)}"


def _people_csv(request: HttpRequest, filters: dict[str, str]) -> HttpResponseBase:
    """Every person of the list's filters as CSV, written as it is read; the download is recorded (personal data)."""
    try:
        rows = selectors.people_export_rows(user=request.user, **filters)
        people_export_record(by_user=request.user, filters=filters)
    except TandemError as exc:
        messages.error(request, exc.message)
        return redirect(f"{reverse('crm:people')}?{urlencode({k: v for k, v in filters.items() if v})}")
    return csv_stream_response(filename="people.csv", columns=selectors.PEOPLE_CSV_COLUMNS, rows=rows)


@login_required
@permission_required("crm.view_person", raise_exception=True)
@vary_on_headers("HX-Request")
def people_list(request: HttpRequest) -> HttpResponseBase:
    filters = {k: request.GET.get(k, "").strip() for k in FILTER_PARAMS}
    if request.GET.get("format") == "csv":
        return _people_csv(request, filters)
    error = None
    try:
        page = selectors.people_list(
            q=filters["q"],
            stage=filters["stage"],
            owner=filters["owner"],
            channel=filters["channel"],
            cursor=request.GET.get("cursor", "").strip(),
            user=request.user,
        )
    except TandemError as exc:
        page, error = selectors.Page(items=[], order="recent", next_cursor=None, prev_cursor=None), exc
    context = {
        "page": page,
        "filters": filters,
        "error": error,
        "next_url": _page_url(filters, page.next_cursor),
        "prev_url": _page_url(filters, page.prev_cursor),
        "stages": STAGE_CHOICES,
        "channels": CHANNELS,
        "can_add": request.user.has_perm("crm.add_person"),
    }
    htmx: Any = getattr(request, "htmx", None)
    # HTMX swaps only the results; a history restore (back button after a swap) needs the whole page.
    partial = bool(htmx) and not htmx.history_restore_request
    if not partial:
        context["owners"] = user_owner_options()
    template = "crm/_people_results.html" if partial else "crm/people_list.html"
    return render(request, template, context, status=error.status_code if error else 200)


def _stage_options(person: Person) -> list[tuple[str, str]]:
    current = person.lifecycle_stage or None
    return [(s.value, LABELS[s]) for s in Stage if can_move(current, s)]


@login_required
@permission_required("crm.view_person", raise_exception=True)
def person_detail(request: HttpRequest, pk: int) -> HttpResponse:
    detail = _get(selectors.person_detail, person_id=pk, user=request.user)
    mine = access_allows(detail.person, user=request.user, write=True)
    context = {
        "d": detail,
        "person": detail.person,
        "stage_changes": detail.stage_changes,
        "stage_options": _stage_options(detail.person),
        "can_change": mine and request.user.has_perm("crm.change_person"),
        "can_add_deal": mine and request.user.has_perm("crm.add_deal"),
        "can_close_deal": mine and request.user.has_perm("crm.change_deal"),
        # The activities panel with its quick-log box (crm.activities), from the lists already read.
        **activity_panel_context(request, person=detail.person, activities=detail.activities, deals=detail.deals),
    }
    return render(request, "crm/person_detail.html", context)


@login_required
@permission_required("crm.change_person", raise_exception=True)
@require_POST
def person_stage(request: HttpRequest, pk: int) -> HttpResponse:
    person = _get(selectors.person_get, person_id=pk, user=request.user, write=True)
    to_stage = request.POST.get("to_stage", "").strip()
    reason = request.POST.get("reason", "").strip()
    error = None
    try:
        person_change_stage(person=person, to_stage=to_stage, by_user=request.user, reason=reason)
    except TandemError as exc:
        error = exc
    if not getattr(request, "htmx", False):
        if error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"Moved to {LABELS[Stage(to_stage)]}.")
        return redirect("crm:person", pk=pk)
    context = {
        "person": person,
        "stage_changes": selectors.person_stage_history(person_id=pk),
        "stage_options": _stage_options(person),
        "can_change": True,
        "stage_error": error,
        "stage_done": None if error else LABELS[Stage(to_stage)],
        "form_reason": reason if error else "",
    }
    return render(request, "crm/_stage_panel.html", context, status=error.status_code if error else 200)


class PersonForm(forms.Form):
    """What the web form accepts; the service decides what is allowed."""

    email = forms.CharField(max_length=254, required=False)
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    company = forms.CharField(max_length=200, required=False)
    job_title = forms.CharField(max_length=200, required=False)
    phone = forms.CharField(max_length=40, required=False)
    owner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    stage = forms.ChoiceField(
        choices=[(s.value, LABELS[s]) for s in Stage if s in INITIAL], initial=Stage.LEAD
    )
    original_channel = forms.ChoiceField(
        label="Source channel", choices=[("", "—"), *CHANNELS], required=False
    )
    consent_email = forms.BooleanField(required=False)
    consent_calls = forms.BooleanField(required=False)

    def __init__(self, *args: Any, owners: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owners = {u.pk: u for u in owners}
        self.fields["owner"].choices = [("", "Unassigned")] + [(u.pk, str(u)) for u in owners]  # type: ignore[attr-defined]


class PersonEditForm(forms.Form):
    first_name = forms.CharField(max_length=100, required=False)
    last_name = forms.CharField(max_length=100, required=False)
    job_title = forms.CharField(max_length=200, required=False)
    phone = forms.CharField(max_length=40, required=False)
    consent_email = forms.BooleanField(required=False)
    consent_calls = forms.BooleanField(required=False)


class DealForm(forms.Form):
    # Bounded like the column (14 digits, 2 decimals) so nothing the database would refuse gets that far.
    amount = forms.DecimalField(max_digits=14, decimal_places=2)
    name = forms.CharField(max_length=200, required=False)


def _form_error(form: forms.Form, exc: TandemError) -> None:
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


@login_required
@permission_required("crm.add_person", raise_exception=True)
def person_new(request: HttpRequest) -> HttpResponse:
    owners = _owner_choices(request.user)
    form = PersonForm(request.POST or None, owners=owners)
    status = 200
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            person = person_create(
                **{k: data[k] for k in ("email", "first_name", "last_name", "job_title", "phone")},
                company=data["company"],
                owner=owner_for(request.user, form.owners.get(data["owner"]), field="owner"),
                stage=data["stage"],
                original_channel=data["original_channel"],
                consent_email=data["consent_email"],
                consent_calls=data["consent_calls"],
                by_user=request.user,
                reason="created in the web app",
            )
        except TandemError as exc:
            _form_error(form, exc)
            status = exc.status_code
        else:
            messages.success(request, f"{person} was added.")
            return redirect("crm:person", pk=person.pk)
    elif request.method == "POST":
        status = 422
    return render(request, "crm/person_form.html", {"form": form, "creating": True}, status=status)


@login_required
@permission_required("crm.change_person", raise_exception=True)
def person_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = _get(selectors.person_get, person_id=pk, user=request.user, write=True)
    initial = {k: getattr(person, k) for k in PERSON_EDITABLE}
    form = PersonEditForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            person_update(person=person, by_user=request.user, **form.cleaned_data)
        except TandemError as exc:
            _form_error(form, exc)
            status = exc.status_code
        else:
            messages.success(request, "Saved.")
            return redirect("crm:person", pk=pk)
    elif request.method == "POST":
        status = 422
    return render(request, "crm/person_form.html", {"form": form, "person": person}, status=status)


@login_required
@permission_required("crm.add_deal", raise_exception=True)
@require_POST
def deal_new(request: HttpRequest, pk: int) -> HttpResponse:
    person = _get(selectors.person_get, person_id=pk, user=request.user, write=True)
    form = DealForm(request.POST)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        messages.error(request, f"{field}: {errors[0]} (got {request.POST.get(field, '')!r})")
        return redirect("crm:person", pk=pk)
    try:
        deal = deal_create(person=person, by_user=request.user, **form.cleaned_data)
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Deal {deal} opened.")
    return redirect("crm:person", pk=pk)


@login_required
@permission_required("crm.change_deal", raise_exception=True)
@require_POST
def deal_close_view(request: HttpRequest, deal_id: int) -> HttpResponse:
    deal = _get(selectors.deal_get, deal_id=deal_id, user=request.user, write=True)
    won = request.POST.get("outcome") == "won"
    try:
        # The page offers the admin-managed taxonomy by id; a typed name still works for scripts and old forms.
        chosen = request.POST.get("lost_reason_id", "").strip()
        lost_reason = (
            selectors.lost_reason_offered(reason_id=chosen)
            if chosen and not won
            else request.POST.get("lost_reason", "")
        )
        deal_close(deal=deal, won=won, lost_reason=lost_reason, by_user=request.user)
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Deal {deal} closed as {deal.stage}.")
    if deal.person_id is None:
        return redirect("crm:people")
    return redirect("crm:person", pk=deal.person_id)


# ---- Duplicate review and merging: the page lists likely duplicates, the merge page picks the survivor ----


def _allowed(request: HttpRequest) -> None:
    require_perm(
        request,
        allowed=selectors.person_merge_allowed(user=request.user),
        message="only admins, marketing and sales managers may merge people",
    )


@login_required
def duplicates(request: HttpRequest) -> HttpResponse:
    _allowed(request)
    groups = selectors.person_duplicate_candidates(user=request.user)
    return render(request, "crm/duplicates.html", {"groups": groups})


@login_required
def merge(request: HttpRequest, pk: int, other: int) -> HttpResponse:
    _allowed(request)
    try:
        survivor = access_check(selectors.person_get(person_id=pk, user=request.user), user=request.user, write=True)
        duplicate = access_check(
            selectors.person_get(person_id=other, user=request.user), user=request.user, write=True
        )
    except NotFound as exc:
        raise Http404(exc.message) from None
    error = None
    if request.method == "POST":
        try:
            person_merge(
                survivor=survivor,
                duplicate=duplicate,
                by_user=request.user,
                reason=request.POST.get("reason", "").strip()[:500],
            )
        except TandemError as exc:
            error = exc.message
        else:
            messages.success(request, f"Merged #{other} into {survivor}.")
            return redirect(reverse("crm:person", args=[pk]))
    context = {"survivor": survivor, "duplicate": duplicate, "error": error}
    return render(request, "crm/merge.html", context, status=422 if error else 200)


# ---- The lost-reason taxonomy: admins and sales managers add, rename, retire and restore the reasons reps pick ----


def _reason(reason_id: int) -> LostReason:
    try:
        return selectors.lost_reason_get(reason_id=reason_id)
    except NotFound as exc:
        raise Http404(exc.message) from None


@login_required
@permission_required("crm.view_lostreason", raise_exception=True)
def lost_reasons(request: HttpRequest) -> HttpResponse:
    status, form = 200, {"name": "", "description": ""}
    if request.method == "POST":
        require_perm(request, "crm.add_lostreason", message="your role may not add lost reasons")
        form = {k: request.POST.get(k, "") for k in form}
        try:
            reason = lost_reason_create(
                name=form["name"], description=form["description"], by_user=request.user
            )
        except TandemError as exc:
            messages.error(request, exc.message)
            status = exc.status_code
        else:
            messages.success(request, f"Added “{reason.name}”.")
            return redirect("crm:lost-reasons")
    context = {
        "reasons": selectors.lost_reasons_list(),
        "form": form,
        "can_add": request.user.has_perm("crm.add_lostreason"),
        "can_change": request.user.has_perm("crm.change_lostreason"),
    }
    return render(request, "crm/lost_reasons.html", context, status=status)


@login_required
@permission_required("crm.change_lostreason", raise_exception=True)
@require_POST
def lost_reason_edit(request: HttpRequest, reason_id: int) -> HttpResponse:
    reason = _reason(reason_id)
    action = request.POST.get("action", "rename")
    try:
        if action == "rename":
            old = reason.name
            lost_reason_rename(
                reason=reason,
                name=request.POST.get("name", ""),
                description=request.POST.get("description"),
                by_user=request.user,
            )
            messages.success(request, f"Renamed “{old}” to “{reason.name}”.")
        else:
            lost_reason_set_active(reason=reason, active=action == "restore", by_user=request.user)
            messages.success(request, f"“{reason.name}” {'restored' if reason.is_active else 'retired'}.")
    except TandemError as exc:
        messages.error(request, exc.message)
    return redirect("crm:lost-reasons")


@login_required
@permission_required("crm.view_deal", raise_exception=True)
def lost_reason_options(request: HttpRequest) -> HttpResponse:
    """The <option>s of the deal-lost select, loaded lazily so the person page's own queries stay pinned."""
    return render(
        request,
        "crm/_lost_reason_options.html",
        {"reasons": selectors.lost_reasons_list(include_retired=False)},
    )
