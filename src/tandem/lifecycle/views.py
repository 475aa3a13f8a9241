"""Pages for the hand-off: the definitions page (the common language, its history, publishing)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.http import require_perm
from tandem.core.periods import period_from_dates
from tandem.crm.models import Person
from tandem.lifecycle.business_hours import holidays_parse, shifts_parse
from tandem.lifecycle.criteria import DEFINITION_NAMES, DryRunSummary
from tandem.lifecycle.holidays import PRESETS
from tandem.lifecycle.routing_rules import RoutingRules, rules_check
from tandem.lifecycle.selectors import (
    definition_dry_run,
    definitions_history,
    inbox_items,
    notifications_recent,
    routing_config_current,
    routing_history,
    sla_policy_history,
    sla_scorecard,
    team_calendar_view,
    team_calendar_views,
)
from tandem.lifecycle.services import (
    REJECT_REASONS,
    definition_publish,
    mql_accept,
    mql_reject,
    notifications_mark_read,
    roster_build,
    routing_publish,
    sla_policy_current,
    sla_policy_publish,
    team_calendar_add_holidays,
    team_calendar_set,
)

PUBLISH_PERM = "lifecycle.add_definitionversion"


def _spec_text(spec: dict[str, Any]) -> str:
    # The version is numbered by the service, so the editor does not offer it.
    return json.dumps({k: v for k, v in spec.items() if k != "version"}, indent=2)


@login_required
def definitions(request: HttpRequest) -> HttpResponse:
    can_publish = request.user.has_perm(PUBLISH_PERM)
    history = definitions_history()
    stage = request.GET.get("stage", "mql") if request.GET.get("stage") in DEFINITION_NAMES else "mql"
    error: dict[str, Any] | None = None
    form = {"stage": stage, "spec": "", "reason": ""}
    dry_run: DryRunSummary | None = None
    if request.method == "POST" and request.POST.get("action") == "dry_run":
        # Read-only, so every role may ask "what if".
        form = {k: request.POST.get(k, "") for k in ("stage", "spec", "reason")}
        status = 200
        try:
            spec = json.loads(form["spec"])
            if not isinstance(spec, dict):
                raise ValidationFailed("A definition must be a JSON object.", field="spec", value=None)
            dry_run = definition_dry_run(spec={**spec, "name": form["stage"]})
        except json.JSONDecodeError as exc:
            error, status = {"detail": f"The definition is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).", "field": "spec"}, 422
        except TandemError as exc:
            error, status = exc.as_dict(), 422
    elif request.method == "POST":
        require_perm(request, allowed=can_publish, message="Only admins publish definitions.")
        form = {k: request.POST.get(k, "") for k in ("stage", "spec", "reason")}
        try:
            try:
                spec = json.loads(form["spec"])
            except json.JSONDecodeError as exc:
                error = {"detail": f"The definition is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).", "field": "spec"}
            else:
                row = definition_publish(stage=form["stage"], spec=spec, reason=form["reason"], by_user=request.user)
                messages.success(request, f"Published {row.stage.upper()} version {row.version}.")
                return redirect(reverse("lifecycle:definitions") + f"#{row.stage}-v{row.version}")
        except TandemError as exc:
            error = exc.as_dict()
        status = 422
    if request.method == "GET":
        status = 200
        current = history.get(stage) or []
        if current:
            form["spec"] = _spec_text(current[0].spec)
    # Field errors from inside the JSON (days, op, kinds…) belong to the definition box.
    error_at = ""
    if error:
        error_at = str(error.get("field")) if error.get("field") in ("stage", "reason") else "spec"
    return render(
        request,
        "lifecycle/definitions.html",
        {
            "current": [(s, history[s][0] if history.get(s) else None) for s in DEFINITION_NAMES],
            "history": [(s, history.get(s, [])) for s in DEFINITION_NAMES],
            "can_publish": can_publish,
            "form": form,
            "error": error,
            "error_at": error_at,
            "stages": DEFINITION_NAMES,
            "dry_run": dry_run,
        },
        status=status,
    )


# --- the rep's inbox ---------------------------------------------------------------------------------------


@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    notes = notifications_recent(user=request.user, limit=10)
    unread = {n.pk for n in notes if n.read_at is None}
    notifications_mark_read(notifications=notes)  # shown once as new, then kept as read
    return render(
        request,
        "lifecycle/inbox.html",
        {
            "items": inbox_items(user=request.user),
            "reasons": REJECT_REASONS.items(),
            "notifications": notes,
            "unread": unread,
        },
    )


def _answer(request: HttpRequest, person_id: int, accept: bool) -> HttpResponse:
    person = Person.objects.filter(pk=person_id).first()
    if person is None:
        raise Http404("No such person.")
    try:
        if accept:
            mql_accept(person=person, by_user=request.user)
            messages.success(request, f"Accepted {person}: now a sales-accepted lead.")
        else:
            mql_reject(
                person=person,
                by_user=request.user,
                reason_code=request.POST.get("reason_code", ""),
                comment=request.POST.get("comment", ""),
            )
            messages.success(request, f"Rejected {person}: back to marketing as recycled.")
    except TandemError as exc:
        messages.error(request, f"{person}: {exc.message}")
    return redirect("lifecycle:inbox")


@login_required
@require_POST
def inbox_accept(request: HttpRequest, person_id: int) -> HttpResponse:
    return _answer(request, person_id, accept=True)


@login_required
@require_POST
def inbox_reject(request: HttpRequest, person_id: int) -> HttpResponse:
    return _answer(request, person_id, accept=False)


# --- routing rules (admins edit, everyone reads) -----------------------------------------------------------


@login_required
def routing(request: HttpRequest) -> HttpResponse:
    can_edit = request.user.has_perm("lifecycle.add_routingconfig")
    error: dict[str, Any] | None = None
    current = routing_config_current()
    form = {"spec": json.dumps({"rules": current.spec.get("rules", [])}, indent=2) if current else "", "reason": ""}
    status = 200
    if request.method == "POST":
        require_perm(request, allowed=can_edit, message="Only admins edit the routing rules.")
        form = {k: request.POST.get(k, "") for k in ("spec", "reason")}
        try:
            try:
                spec = json.loads(form["spec"])
            except json.JSONDecodeError as exc:
                raise ValidationFailed(f"The rules are not valid JSON: {exc.msg} (line {exc.lineno}).", field="spec") from exc
            row = routing_publish(spec=spec, reason=form["reason"], by_user=request.user)
            messages.success(request, f"Published routing version {row.version}.")
            return redirect("lifecycle:routing")
        except TandemError as exc:
            error, status = exc.as_dict(), 422
    roster = roster_build()
    rules = RoutingRules.from_dict(current.spec) if current else None
    return render(
        request,
        "lifecycle/routing.html",
        {
            "current": current,
            "sentences": rules.describe() if rules else [],
            "warnings": rules_check(rules, roster) if rules else [],
            "roster": roster,
            "history": routing_history(),
            "can_edit": can_edit,
            "form": form,
            "error": error,
        },
        status=status,
    )


# --- the SLA scorecard -----------------------------------------------------------------------------------------


@login_required
def sla(request: HttpRequest) -> HttpResponse:
    error: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    can_edit = request.user.has_perm("lifecycle.add_slapolicyversion")
    policy = sla_policy_current()
    policy_form = {"spec": json.dumps({k: v for k, v in policy.to_dict().items() if k != "version"}, indent=2), "reason": ""}
    policy_error: dict[str, Any] | None = None
    if request.method == "POST":
        require_perm(request, allowed=can_edit, message="Only admins change the SLA policy.")
        policy_form = {k: request.POST.get(k, "") for k in ("spec", "reason")}
        try:
            try:
                spec = json.loads(policy_form["spec"])
            except json.JSONDecodeError as exc:
                raise ValidationFailed(f"The policy is not valid JSON: {exc.msg} (line {exc.lineno}).", field="spec") from exc
            row = sla_policy_publish(spec=spec, reason=policy_form["reason"], by_user=request.user)
            messages.success(request, f"Published SLA policy version {row.version}.")
            return redirect("lifecycle:sla")
        except TandemError as exc:
            policy_error = exc.as_dict()
    raw = {"from": request.GET.get("from", ""), "to": request.GET.get("to", "")}
    try:
        try:
            dates = [dt.date.fromisoformat(raw[k]) if raw[k] else None for k in ("from", "to")]
        except ValueError as exc:
            raise ValidationFailed("Dates are YYYY-MM-DD.", field="from", value=raw["from"] or raw["to"]) from exc
        start, end = period_from_dates(dates[0], dates[1])
        report = sla_scorecard(start=start, end=end)
        raw = {"from": start.date().isoformat(), "to": (end - dt.timedelta(days=1)).date().isoformat()}
    except TandemError as exc:
        error = exc.as_dict()
    return render(
        request,
        "lifecycle/sla.html",
        {
            "report": report,
            "error": error,
            "form": raw,
            "policy": policy.describe(),
            "can_edit": can_edit,
            "policy_form": policy_form,
            "policy_error": policy_error,
            "policy_history": sla_policy_history(),
        },
        status=422 if error or policy_error else 200,
    )


# --- team calendars (admins edit, everyone reads) ---------------------------------------------------------------


@login_required
def calendars(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    return render(
        request,
        "lifecycle/calendars.html",
        {
            "calendars": [(c, c.upcoming(today)) for c in team_calendar_views()],
            "can_edit": request.user.has_perm("users.change_team"),
        },
    )


@login_required
def calendar_edit(request: HttpRequest, team_id: int) -> HttpResponse:
    try:
        view = team_calendar_view(team_id=team_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    require_perm(request, "users.change_team", message="Only admins edit team calendars.")
    error: dict[str, Any] | None = None
    form: dict[str, Any] = {
        "time_zone": view.calendar.time_zone,
        "hours": view.form_hours(),
        "holidays": view.form_holidays(),
        "reason": "",
        "default": view.is_default,
    }
    if request.method == "POST":
        post = request.POST
        form = {
            "time_zone": post.get("time_zone", ""),
            "hours": [(key, label, post.get(f"hours_{key}", "")) for key, label, _ in view.form_hours()],
            "holidays": post.get("holidays", ""),
            "reason": post.get("reason", ""),
            "default": post.get("default_hours") == "on",
        }
        try:
            if post.get("action") == "preset":
                year = int(post.get("year") or timezone.localdate().year)
                team_calendar_add_holidays(team=view.team, preset=post.get("preset", ""), years=range(year, year + 2), by_user=request.user)
                messages.success(request, f"Added holidays for {year} and {year + 1}.")
            else:
                hours = None if form["default"] else {key: shifts_parse(text, day=key) for key, _, text in form["hours"]}
                team_calendar_set(
                    team=view.team,
                    time_zone=form["time_zone"],
                    hours=hours,
                    holidays=holidays_parse(form["holidays"]),
                    by_user=request.user,
                    reason=form["reason"],
                )
                messages.success(request, f"Saved the calendar of {view.team}.")
            return redirect("lifecycle:calendar_edit", team_id=team_id)
        except (TandemError, ValueError) as exc:
            error = exc.as_dict() if isinstance(exc, TandemError) else {"detail": "The year is a number such as 2026.", "field": "year"}
    return render(
        request,
        "lifecycle/calendar_edit.html",
        {"view": view, "form": form, "error": error, "presets": PRESETS.items(), "year": timezone.localdate().year},
        status=422 if error else 200,
    )
