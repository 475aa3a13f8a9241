"""Pages for outbound webhooks (admins only): endpoints and their health, secrets, test pings, the delivery log."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tandem.core.errors import NotFound, TandemError
from tandem.core.http import param_choice
from tandem.webhooks import selectors, services
from tandem.webhooks.catalog import EVENT_TYPES
from tandem.webhooks.models import ALL_EVENTS, Delivery, DeliveryStatus, Endpoint

PERM = "webhooks.manage_webhooks"


def _endpoint(endpoint_id: int) -> Endpoint:
    try:
        return selectors.endpoint_get(endpoint_id=endpoint_id)
    except NotFound as exc:
        raise Http404(exc.message) from None


def _delivery(delivery_id: int) -> Delivery:
    try:
        return selectors.delivery_get(delivery_id=delivery_id)
    except NotFound as exc:
        raise Http404(exc.message) from None


def _form(request: HttpRequest) -> dict[str, Any]:
    chosen = request.POST.getlist("event_types")
    return {
        "url": request.POST.get("url", ""),
        "description": request.POST.get("description", ""),
        "event_types": ALL_EVENTS if ALL_EVENTS in chosen else chosen,
    }


def _choices(selected: Any) -> list[dict[str, Any]]:
    return [
        {"name": e.name, "summary": e.summary, "checked": e.name in selected} for e in EVENT_TYPES.values()
    ]


def _secret_page(request: HttpRequest, endpoint: Endpoint, *, what: str) -> HttpResponse:
    # The secret is shown in this answer only (never stored in the session nor shown again).
    return render(request, "webhooks/secret.html", {"endpoint": endpoint, "what": what})


@login_required
@permission_required(PERM, raise_exception=True)
def endpoints(request: HttpRequest) -> HttpResponse:
    status = 200
    form: dict[str, Any] = {"url": "", "description": "", "event_types": []}
    if request.method == "POST":
        form = _form(request)
        try:
            endpoint = services.endpoint_create(by_user=request.user, **form)
        except TandemError as exc:
            messages.error(request, exc.message)
            status = exc.status_code
        else:
            return _secret_page(request, endpoint, what="created")
    context = {
        "endpoints": selectors.endpoints_list(),
        "form": form,
        "all_events": form["event_types"] == ALL_EVENTS,
        "choices": _choices(form["event_types"]),
    }
    return render(request, "webhooks/endpoints.html", context, status=status)


@login_required
@permission_required(PERM, raise_exception=True)
def endpoint_detail(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    status = 200
    if request.method == "POST":
        form = _form(request)
        try:
            services.endpoint_update(endpoint=endpoint, by_user=request.user, **form)
        except TandemError as exc:
            messages.error(request, exc.message)
            status = exc.status_code
            endpoint = _endpoint(endpoint_id)
        else:
            messages.success(request, "Saved.")
            return redirect("webhooks:endpoint", endpoint_id=endpoint.pk)
    chosen = param_choice(request, "status", ["", *DeliveryStatus.values], "")
    try:
        page = selectors.deliveries_list(
            endpoint_id=endpoint.pk, status=chosen, cursor=request.GET.get("cursor", "")
        )
    except TandemError:  # a cursor mangled by hand: the first page, the page still renders
        page = selectors.deliveries_list(endpoint_id=endpoint.pk, status=chosen)
    context = {
        "endpoint": endpoint,
        "all_events": ALL_EVENTS in endpoint.event_types,
        "choices": _choices(endpoint.event_types),
        "deliveries": page.items,
        "next_cursor": page.next_cursor,
        "statuses": DeliveryStatus.values,
        "status": chosen,
    }
    return render(request, "webhooks/endpoint_detail.html", context, status=status)


@login_required
@permission_required(PERM, raise_exception=True)
@require_POST
def endpoint_action(request: HttpRequest, endpoint_id: int) -> HttpResponse:
    endpoint = _endpoint(endpoint_id)
    action = request.POST.get("action", "")
    try:
        if action == "rotate":
            services.endpoint_rotate_secret(endpoint=endpoint, by_user=request.user)
            return _secret_page(request, endpoint, what="rotated")
        if action == "ping":
            sent = services.endpoint_ping(endpoint=endpoint, by_user=request.user)
            answer = f"HTTP {sent.last_response_code}" if sent.last_response_code else sent.last_error
            if sent.status == DeliveryStatus.SUCCEEDED:
                messages.success(request, f"Test message delivered: {answer}.")
            else:
                messages.error(request, f"Test message not delivered: {answer}.")
        elif action in ("disable", "enable"):
            services.endpoint_set_active(endpoint=endpoint, active=action == "enable", by_user=request.user)
            messages.success(request, "Re-enabled." if action == "enable" else "Disabled.")
        elif action == "remove":
            services.endpoint_remove(endpoint=endpoint, by_user=request.user)
            messages.success(request, f"Removed {endpoint.url}.")
            return redirect("webhooks:endpoints")
        else:
            messages.error(request, f"Unknown action {action!r}.")
    except TandemError as exc:
        messages.error(request, exc.message)
    return redirect("webhooks:endpoint", endpoint_id=endpoint.pk)


@login_required
@permission_required(PERM, raise_exception=True)
def delivery_detail(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = _delivery(delivery_id)
    context = {"delivery": delivery, "attempts": selectors.delivery_attempts(delivery_id=delivery.pk)}
    return render(request, "webhooks/delivery_detail.html", context)


@login_required
@permission_required(PERM, raise_exception=True)
@require_POST
def delivery_replay(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = _delivery(delivery_id)
    try:
        services.delivery_replay(delivery=delivery, by_user=request.user)
    except TandemError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, f"Replay of {delivery.message_id} queued; the worker sends it within seconds."
        )
    return redirect("webhooks:delivery", delivery_id=delivery.pk)
