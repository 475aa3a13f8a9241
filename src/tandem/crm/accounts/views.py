"""Account pages: the list (search, filters, keyset pages; HTMX swaps the table), the account page, create and
edit (custom fields as name/value rows, not JSON)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.vary import vary_on_headers

from tandem.core.errors import NotFound, TandemError
from tandem.crm.accounts import selectors
from tandem.crm.accounts.services import account_create, account_update
from tandem.crm.models import Account, SizeBand
from tandem.users.access import access_allows, access_check, owner_change, owner_choices, owner_for
from tandem.users.selectors import user_owner_options

FILTER_PARAMS = ("q", "industry", "owner", "country")
# Empty name/value rows the form offers below the stored custom fields.
BLANK_CUSTOM_ROWS = 3


def _page_url(filters: dict[str, str], cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = {k: v for k, v in filters.items() if v}
    query["cursor"] = cursor
    return f"{reverse('accounts:list')}?{urlencode(query)}"


@login_required
@permission_required("crm.view_account", raise_exception=True)
@vary_on_headers("HX-Request")
def account_list(request: HttpRequest) -> HttpResponse:
    filters = {k: request.GET.get(k, "").strip() for k in FILTER_PARAMS}
    error = None
    try:
        page = selectors.account_list(
            q=filters["q"],
            industry=filters["industry"],
            owner=filters["owner"],
            country=filters["country"],
            cursor=request.GET.get("cursor", "").strip(),
            user=request.user,
        )
    except TandemError as exc:
        page, error = selectors.Page(items=[], next_cursor=None, prev_cursor=None), exc
    context: dict[str, Any] = {
        "page": page,
        "filters": filters,
        "error": error,
        "next_url": _page_url(filters, page.next_cursor),
        "prev_url": _page_url(filters, page.prev_cursor),
        "can_add": request.user.has_perm("crm.add_account"),
    }
    htmx: Any = getattr(request, "htmx", None)
    # HTMX swaps only the results; a history restore (back button after a swap) needs the whole page.
    partial = bool(htmx) and not htmx.history_restore_request
    if not partial:
        context["owners"] = user_owner_options()
        context.update(selectors.account_filter_options())
    template = "crm/accounts/_results.html" if partial else "crm/accounts/list.html"
    return render(request, template, context, status=error.status_code if error else 200)


@login_required
@permission_required("crm.view_account", raise_exception=True)
def account_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        detail = selectors.account_detail(account_id=pk, user=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from None
    context = {
        "d": detail,
        "account": detail.account,
        "custom_fields": sorted((detail.account.custom_fields or {}).items()),
        "can_change": request.user.has_perm("crm.change_account")
        and access_allows(detail.account, user=request.user, write=True),
    }
    return render(request, "crm/accounts/detail.html", context)


class AccountForm(forms.Form):
    """What the web form accepts; the service decides what is allowed."""

    name = forms.CharField(max_length=200)
    domain = forms.CharField(
        max_length=200, required=False, help_text="e.g. acme.example; one account per domain"
    )
    industry = forms.CharField(max_length=80, required=False)
    size_band = forms.ChoiceField(label="Size", choices=[("", "—"), *SizeBand.choices], required=False)
    country = forms.CharField(max_length=80, required=False)
    owner = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)

    def __init__(self, *args: Any, owners: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owners = {u.pk: u for u in owners}
        self.fields["owner"].choices = [("", "Unassigned")] + [(u.pk, str(u)) for u in owners]  # type: ignore[attr-defined]


def _custom_rows(
    request: HttpRequest, stored: dict[str, Any]
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """The name/value rows as posted, and the custom fields they make (an empty value removes a field).

    A value left as shown keeps its stored type (a number stays a number); anything typed is text.
    """
    names = request.POST.getlist("cf_name")
    values = request.POST.getlist("cf_value")
    rows = list(zip(names, values, strict=False))
    out: dict[str, Any] = {}
    for name, value in rows:
        name, value = name.strip(), value.strip()
        if not name or not value:
            continue
        old = stored.get(name)
        out[name] = old if old is not None and _shown(old) == value else value
    return rows, out


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _form_context(form: AccountForm, rows: list[tuple[str, str]], **extra: Any) -> dict[str, Any]:
    padded = [*rows, *[("", "")] * BLANK_CUSTOM_ROWS]
    return {"form": form, "custom_rows": padded, **extra}


def _form_error(form: forms.Form, exc: TandemError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


def _owner_choices(user: Any) -> list[Any]:
    return owner_choices(user, user_owner_options())


@login_required
@permission_required("crm.add_account", raise_exception=True)
def account_new(request: HttpRequest) -> HttpResponse:
    form = AccountForm(request.POST or None, owners=_owner_choices(request.user))
    rows: list[tuple[str, str]] = []
    status = 200
    if request.method == "POST":
        rows, custom = _custom_rows(request, {})
        if form.is_valid():
            data = form.cleaned_data
            try:
                account = account_create(
                    **{k: data[k] for k in ("name", "domain", "industry", "size_band", "country")},
                    owner=owner_for(request.user, form.owners.get(data["owner"]), field="owner"),
                    custom_fields=custom,
                    by_user=request.user,
                )
            except TandemError as exc:
                _form_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, f"{account} was added.")
                return redirect("accounts:detail", pk=account.pk)
        else:
            status = 422
    return render(request, "crm/accounts/form.html", _form_context(form, rows, creating=True), status=status)


@login_required
@permission_required("crm.change_account", raise_exception=True)
def account_edit(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        account: Account = access_check(
            selectors.account_get(account_id=pk, user=request.user), user=request.user, write=True
        )
    except NotFound as exc:
        raise Http404(exc.message) from None
    stored = dict(account.custom_fields or {})
    initial = {
        "name": account.name,
        "domain": account.domain or "",
        "industry": account.industry,
        "size_band": account.size_band,
        "country": account.country,
        "owner": account.owner_id,
    }
    owners = _owner_choices(request.user)
    if account.owner is not None and account.owner not in owners:
        # An owner who no longer holds a sales role stays choosable, so saving other fields keeps them.
        owners.append(account.owner)
    form = AccountForm(request.POST or None, initial=initial, owners=owners)
    rows = [(k, _shown(v)) for k, v in sorted(stored.items())]
    status = 200
    if request.method == "POST":
        rows, custom = _custom_rows(request, stored)
        if form.is_valid():
            data = form.cleaned_data
            try:
                account_update(
                    account=account,
                    by_user=request.user,
                    **{k: data[k] for k in ("name", "domain", "industry", "size_band", "country")},
                    owner=owner_change(
                        request.user, current_id=account.owner_id, owner=form.owners.get(data["owner"]), field="owner"
                    ),
                    custom_fields=custom,
                )
            except TandemError as exc:
                _form_error(form, exc)
                status = exc.status_code
            else:
                messages.success(request, "Saved.")
                return redirect("accounts:detail", pk=pk)
        else:
            status = 422
    return render(
        request, "crm/accounts/form.html", _form_context(form, rows, account=account), status=status
    )
