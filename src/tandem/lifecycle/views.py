"""Pages for the hand-off: the definitions page (the common language, its history, publishing)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.http import param_choice, require_perm
from tandem.core.periods import period_from_dates
from tandem.crm.channels import CHANNELS, TOUCHPOINT_KINDS
from tandem.crm.models import Person
from tandem.crm.selectors import person_get
from tandem.crm.stages import Stage
from tandem.lifecycle.business_hours import holidays_parse, shifts_parse
from tandem.lifecycle.criteria import DEFINITION_NAMES, GRADES
from tandem.lifecycle.editors import (
    FACTS,
    KIND_LABELS,
    TYPE_LABELS,
    DefinitionForm,
    RoutingForm,
    definition_form_check,
    definition_form_from_post,
    definition_form_from_spec,
    routing_form_check,
    routing_form_from_post,
    routing_form_from_spec,
    sla_form_check,
    sla_form_from_post,
    sla_form_from_spec,
)
from tandem.lifecycle.models import ChangeProposal
from tandem.lifecycle.routing_rules import RoutingRules, rules_check
from tandem.lifecycle.selectors import (
    INBOX_AGES,
    INBOX_DEFAULT_AGE,
    INBOX_DEFAULT_SORT,
    INBOX_FILTERS,
    INBOX_SORTS,
    DryRunCompare,
    ProposalView,
    VersionView,
    definition_dry_run_compare,
    definitions_history,
    inbox_page,
    notifications_recent,
    person_first_touch,
    proposal_approvers,
    proposal_get,
    proposals_open_count,
    proposals_page,
    routing_config_current,
    routing_history,
    sla_policy_history,
    sla_scorecard_cached,
    team_calendar_view,
    team_calendar_views,
)
from tandem.lifecycle.services import (
    APPROVE_PERM,
    PROPOSAL_KINDS,
    PROPOSE_PERM,
    REJECT_REASONS,
    definition_publish,
    mql_accept,
    mql_reject,
    notifications_mark_read,
    proposal_approve,
    proposal_approver_set,
    proposal_create,
    proposal_reject,
    roster_build,
    routing_publish,
    sla_policy_current,
    sla_policy_publish,
    team_calendar_set,
)
from tandem.users.access import access_check
from tandem.users.models import Role

PUBLISH_PERM = "lifecycle.add_definitionversion"
ROUTING_PERM = "lifecycle.add_routingconfig"
SLA_PERM = "lifecycle.add_slapolicyversion"
GRANT_PERM = "users.change_user"
# What the editors' selects and suggestion lists offer.
EDITOR_CHOICES: dict[str, Any] = {
    "types": list(TYPE_LABELS.items()),
    "number_ops": [(">=", "at least"), ("<=", "at most"), ("between", "between")],
    "grade_ops": [(">=", "or better"), ("<=", "or worse"), ("between", "up to")],
    "grade_pairs": [(g, g) for g in GRADES],
    "consent": [("email", "e-mail"), ("calls", "calls")],
    "facts": FACTS,
    "kinds": TOUCHPOINT_KINDS,
    "channels": CHANNELS,
    "rule_kinds": list(KIND_LABELS.items()),
}


def _is_htmx(request: HttpRequest) -> bool:
    htmx: Any = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request


def _action(request: HttpRequest) -> tuple[str, str]:
    """The posted action ("dry_run", "add:any", "remove:3"…) as (verb, argument)."""
    verb, _, arg = request.POST.get("action", "").partition(":")
    return verb, arg


def _number(arg: str) -> int:
    return int(arg) if arg.isdigit() and len(arg) < 6 else -1


def _quiet(form: DefinitionForm | RoutingForm) -> None:
    # Adding, removing or moving a row is not the moment to list what is still blank: errors wait for a
    # dry run, a proposal or a publish; sentences show for the rows that read already.
    form.errors.clear()
    for row in form.clauses if isinstance(form, DefinitionForm) else form.rules:
        row.errors.clear()


def _people(n: int) -> str:
    return "1 person was" if n == 1 else f"{n} people were"


def _json_text(spec: Any) -> str:
    return json.dumps(spec, indent=2, ensure_ascii=False) if spec else ""


def _proposal_for_editor(request: HttpRequest, kind: str) -> ProposalView | None:
    """The proposal named by ?proposal=ID, loaded into an editor to propose it again (404 when not of this kind)."""
    raw = request.GET.get("proposal", "")
    if not raw:
        return None
    try:
        view = proposal_get(proposal_id=_number(raw))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if view.proposal.kind != kind:
        raise Http404("That proposal is not for this editor.")
    return view


@login_required
@vary_on_headers("HX-Request")
def definitions(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    can_publish, can_propose = user.has_perm(PUBLISH_PERM), user.has_perm(PROPOSE_PERM)
    data = request.POST if request.method == "POST" else request.GET
    stage = str(data.get("stage")) if data.get("stage") in DEFINITION_NAMES else "mql"
    reason = request.POST.get("reason", "")
    error: dict[str, Any] | None = None
    compare: DryRunCompare | None = None
    confirm = False
    status = 200
    spec: dict[str, Any] | None = None
    history: dict[str, list[VersionView]] | None = None
    if request.method == "POST":
        form = definition_form_from_post(request.POST, stage=stage)
        verb, arg = _action(request)
        if verb == "propose":
            require_perm(request, allowed=can_propose, message="Only marketing, sales managers and admins propose changes.")
        elif verb == "publish":
            require_perm(request, allowed=can_publish, message="Only admins publish definitions.")
        if verb in ("add", "remove", "move", "refresh"):
            try:
                if verb == "add":
                    form.add(group=arg, kind=request.POST.get(f"add_type_{arg}", ""))
                elif verb == "remove":
                    form.remove(_number(arg))
                elif verb == "move":
                    form.move(_number(arg))
            except TandemError as exc:
                error = exc.as_dict()
            spec = definition_form_check(form)
            _quiet(form)
        else:
            spec = definition_form_check(form)
            if spec is None:
                status = 422
            elif verb == "propose":
                try:
                    proposal = proposal_create(kind="definition", stage=stage, spec=spec, reason=reason, by_user=user)
                    messages.success(request, f"Proposed a new {stage.upper()} definition (proposal #{proposal.pk}): an approver publishes or rejects it.")
                    return redirect("lifecycle:proposal", proposal_id=proposal.pk)
                except TandemError as exc:
                    error, status = exc.as_dict(), exc.status_code
            elif verb == "publish":
                expected = request.POST.get("expect_promoted", "")
                if stage == Stage.MQL.value and not expected.isdigit():
                    # Publishing an MQL definition promotes people at once: say how many before doing it.
                    compare, confirm = definition_dry_run_compare(stage=stage, spec=spec), True
                else:
                    try:
                        row = definition_publish(
                            stage=stage, spec=spec, reason=reason, by_user=user,
                            expect_promoted=int(expected) if stage == Stage.MQL.value else None,
                        )
                        promoted = f"; {_people(int(expected))} promoted to MQL" if stage == Stage.MQL.value else ""
                        messages.success(request, f"Published {row.stage.upper()} version {row.version}{promoted}.")
                        return redirect(reverse("lifecycle:definitions") + f"?stage={row.stage}#{row.stage}-v{row.version}")
                    except TandemError as exc:
                        error, status = exc.as_dict(), exc.status_code
                        if exc.field == "expect_promoted":
                            compare, confirm = definition_dry_run_compare(stage=stage, spec=spec), True
            else:  # dry run: read-only, so every role may ask "what if"
                compare = definition_dry_run_compare(stage=stage, spec=spec)
    else:
        loaded = _proposal_for_editor(request, "definition")
        if loaded is not None:
            stage, reason = loaded.proposal.stage, loaded.proposal.reason
            form = definition_form_from_spec(stage=stage, spec=loaded.proposal.spec)
        else:
            history = definitions_history()
            versions = history.get(stage) or []
            form = definition_form_from_spec(stage=stage, spec=versions[0].spec) if versions else DefinitionForm(stage=stage, clauses=[])
            if not versions:
                form.add(group="any", kind="touchpoint")
        spec = definition_form_check(form)
    context: dict[str, Any] = {
        "form": form,
        "stage": stage,
        "reason": reason,
        "error": error,
        "compare": compare,
        "confirm": confirm,
        "can_publish": can_publish,
        "can_propose": can_propose,
        "spec_json": _json_text(spec) if can_publish else "",
        "choices": EDITOR_CHOICES,
    }
    if _is_htmx(request) and request.method == "POST" and compare is None:
        return render(request, "lifecycle/partials/definition_editor.html", context, status=status)
    history = history if history is not None else definitions_history()
    context.update(
        current=[(s, history[s][0] if history.get(s) else None) for s in DEFINITION_NAMES],
        history=[(s, history.get(s, [])) for s in DEFINITION_NAMES],
        stages=DEFINITION_NAMES,
        open_proposals=proposals_open_count(),
    )
    return render(request, "lifecycle/definitions.html", context, status=status)


# --- the rep's inbox ---------------------------------------------------------------------------------------


def _inbox_url(filters: dict[str, str], cursor: str | None = None, **changes: str) -> str:
    """The inbox address for these filters (defaults left out, so the address stays short and bookmarkable)."""
    query = {**filters, **changes}
    defaults = {"age": INBOX_DEFAULT_AGE, "sort": INBOX_DEFAULT_SORT}
    params = {k: v for k, v in query.items() if v and v != defaults.get(k)}
    if cursor:
        params["cursor"] = cursor
    return reverse("lifecycle:inbox") + (f"?{urlencode(params)}" if params else "")


def _opposite(sort: str) -> str:
    return sort[1:] if sort.startswith("-") else f"-{sort}"


def _user_zone(user: Any) -> ZoneInfo:
    # Times show in the reader's zone; a zone name the system does not know falls back to UTC, not a 500.
    try:
        return ZoneInfo(str(getattr(user, "time_zone", "") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@login_required
@vary_on_headers("HX-Request")
def inbox(request: HttpRequest) -> HttpResponse:
    raw = {k: request.GET.get(k, "").strip() for k in INBOX_FILTERS}
    htmx: Any = getattr(request, "htmx", None)
    # HTMX swaps only the list (filters, counts, rows, pager); a history restore needs the whole page.
    partial = bool(htmx) and not htmx.history_restore_request
    error: TandemError | None = None
    try:
        page = inbox_page(
            user=request.user,
            owner=raw["owner"],
            state=raw["state"],
            channel=raw["channel"],
            campaign=raw["campaign"],
            age=raw["age"],
            sort=raw["sort"],
            cursor=request.GET.get("cursor", "").strip(),
            with_choices=not partial,
        )
    except TandemError as exc:
        # The list stays usable: its filters and counts under the defaults, no rows, and what was wrong.
        error = exc
        page = replace(inbox_page(user=request.user, with_choices=not partial), items=[], next_cursor=None, prev_cursor=None)
    filters = page.filters
    context: dict[str, Any] = {
        "page": page,
        "error": error,
        "filters": filters,
        # Where an answer posted without JavaScript comes back to: this very page.
        "here": _inbox_url(filters, None if error else request.GET.get("cursor", "").strip()),
        "filtered": _inbox_url(filters) != reverse("lifecycle:inbox"),
        "next_url": _inbox_url(filters, page.next_cursor) if page.next_cursor else None,
        "prev_url": _inbox_url(filters, page.prev_cursor) if page.prev_cursor else None,
        "state_links": [(value, label, count, _inbox_url(filters, state=value)) for value, label, count in page.state_chips],
        # A column header sorts the useful way first (newest hand-off, highest score), then the other way.
        "sort_links": {
            first.lstrip("-"): _inbox_url(filters, sort=first if filters["sort"] != first else _opposite(first))
            for first in ("deadline", "-handoff", "-score", "name")
        },
        "older_url": _inbox_url(filters, age="older" if filters["age"] == INBOX_DEFAULT_AGE else "all"),
        "reasons": REJECT_REASONS.items(),
        "sorts": INBOX_SORTS.items(),
        "ages": INBOX_AGES.items(),
        "channels": CHANNELS,
        "zone": _user_zone(request.user),
    }
    status = error.status_code if error else 200
    if partial:
        return render(request, "lifecycle/partials/inbox_list.html", context, status=status)
    notes = notifications_recent(user=request.user, limit=10)
    context["notifications"] = notes
    context["unread"] = {n.pk for n in notes if n.read_at is None}
    notifications_mark_read(notifications=notes)  # shown once as new, then kept as read
    return render(request, "lifecycle/inbox.html", context, status=status)


def _inbox_person(person_id: int, user: Any) -> Person:
    # Out of the user's sight answers as missing (404); whether they may change it is checked with the answer.
    try:
        return person_get(person_id=person_id, user=user)
    except NotFound as exc:
        raise Http404(exc.message) from None


def _back_to_inbox(request: HttpRequest) -> HttpResponse:
    # Without JavaScript the answer posts a form and comes back to the same filtered page.
    back = request.POST.get("next", "")
    if not back.startswith(reverse("lifecycle:inbox")) or not url_has_allowed_host_and_scheme(back, allowed_hosts=None):
        back = reverse("lifecycle:inbox")
    return redirect(back)


def _answer_refused(request: HttpRequest, person: Person, exc: TandemError) -> HttpResponse:
    if getattr(request, "htmx", None):
        # The row stays as it was, with the reason beside its buttons.
        response = render(request, "lifecycle/partials/inbox_answer_error.html", {"person": person, "error": exc}, status=exc.status_code)
        response["HX-Retarget"] = f"#answer-error-{person.pk}"
        response["HX-Reswap"] = "innerHTML"
        return response
    messages.error(request, f"{person}: {exc.message}")
    return _back_to_inbox(request)


@login_required
@require_POST
def inbox_accept(request: HttpRequest, person_id: int) -> HttpResponse:
    """Accept an MQL: it becomes a SAL; from the list (HTMX) its row turns into the accepted row."""
    person = _inbox_person(person_id, request.user)
    # Someone else's lead is refused outright (403 page), not answered as a failed accept.
    access_check(person, user=request.user, write=True)
    try:
        change = mql_accept(person=person, by_user=request.user)
    except TandemError as exc:
        return _answer_refused(request, person, exc)
    if getattr(request, "htmx", None):
        # The accepted row offers the SLA's first touch as a task (crm.agenda), due at its deadline.
        first_touch = person_first_touch(person_id=person.pk) if request.user.has_perm("crm.add_task") else None
        context = {"person": person, "change": change, "first_touch": first_touch, "zone": _user_zone(request.user)}
        return render(request, "lifecycle/partials/inbox_accepted.html", context)
    messages.success(request, f"Accepted {person}: now a sales-accepted lead.")
    return _back_to_inbox(request)


@login_required
@require_POST
def inbox_reject(request: HttpRequest, person_id: int) -> HttpResponse:
    """Reject an MQL with a reason: back to marketing as recycled; from the list its row says so."""
    person = _inbox_person(person_id, request.user)
    access_check(person, user=request.user, write=True)
    try:
        change = mql_reject(
            person=person,
            by_user=request.user,
            reason_code=request.POST.get("reason_code", ""),
            comment=request.POST.get("comment", ""),
        )
    except TandemError as exc:
        return _answer_refused(request, person, exc)
    if getattr(request, "htmx", None):
        return render(request, "lifecycle/partials/inbox_rejected.html", {"person": person, "change": change})
    messages.success(request, f"Rejected {person}: back to marketing as recycled.")
    return _back_to_inbox(request)


# --- routing rules (admins publish, marketing proposes, everyone reads) -----------------------------------


@login_required
@vary_on_headers("HX-Request")
def routing(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    can_edit, can_propose = user.has_perm(ROUTING_PERM), user.has_perm(PROPOSE_PERM)
    error: dict[str, Any] | None = None
    current = routing_config_current()
    reason = request.POST.get("reason", "")
    status = 200
    if request.method == "POST":
        form = routing_form_from_post(request.POST)
        verb, arg = _action(request)
        if verb == "propose":
            require_perm(request, allowed=can_propose, message="Only marketing, sales managers and admins propose changes.")
        elif verb not in ("add", "remove", "up", "down", "refresh"):
            require_perm(request, allowed=can_edit, message="Only admins edit the routing rules.")
        if verb in ("add", "remove", "up", "down", "refresh"):
            try:
                if verb == "add":
                    form.add(kind=request.POST.get("add_kind", ""))
                elif verb == "remove":
                    form.remove(_number(arg))
                elif verb in ("up", "down"):
                    form.move(_number(arg), -1 if verb == "up" else 1)
            except TandemError as exc:
                error = exc.as_dict()
            spec = routing_form_check(form)
            _quiet(form)
        else:
            spec = routing_form_check(form)
            if spec is None:
                status = 422
            elif verb == "propose":
                try:
                    proposal = proposal_create(kind="routing", spec=spec, reason=reason, by_user=user)
                    messages.success(request, f"Proposed new routing rules (proposal #{proposal.pk}): an approver publishes or rejects them.")
                    return redirect("lifecycle:proposal", proposal_id=proposal.pk)
                except TandemError as exc:
                    error, status = exc.as_dict(), exc.status_code
            else:
                try:
                    row = routing_publish(spec=spec, reason=reason, by_user=user)
                    messages.success(request, f"Published routing version {row.version}.")
                    return redirect("lifecycle:routing")
                except TandemError as exc:
                    error, status = exc.as_dict(), exc.status_code
    else:
        loaded = _proposal_for_editor(request, "routing")
        if loaded is not None:
            reason = loaded.proposal.reason
            form = routing_form_from_spec(spec=loaded.proposal.spec)
        elif current is not None:
            form = routing_form_from_spec(spec=current.spec)
        else:
            form = RoutingForm(rules=[])
            form.add(kind="round_robin")
        spec = routing_form_check(form)
    roster = roster_build()
    form.set_choices(reps=[(r.id, r.label) for r in roster.reps], teams=[(t.id, t.label) for t in roster.teams])
    context: dict[str, Any] = {
        "form": form,
        "reason": reason,
        "error": error,
        "can_edit": can_edit,
        "can_propose": can_propose,
        "spec_json": _json_text(spec) if can_edit else "",
        "choices": EDITOR_CHOICES,
    }
    if _is_htmx(request) and request.method == "POST":
        return render(request, "lifecycle/partials/routing_editor.html", context, status=status)
    rules = RoutingRules.from_dict(current.spec) if current else None
    context.update(
        current=current,
        sentences=rules.describe() if rules else [],
        warnings=rules_check(rules, roster) if rules else [],
        roster=roster,
        history=routing_history(),
        open_proposals=proposals_open_count(),
    )
    return render(request, "lifecycle/routing.html", context, status=status)


# --- the SLA scorecard and policy -----------------------------------------------------------------------------


@login_required
def sla(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    error: dict[str, Any] | None = None
    report: dict[str, Any] | None = None
    can_edit, can_propose = user.has_perm(SLA_PERM), user.has_perm(PROPOSE_PERM)
    policy = sla_policy_current()
    policy_error: dict[str, Any] | None = None
    reason = request.POST.get("reason", "")
    if request.method == "POST":
        verb, _ = _action(request)
        if verb == "propose":
            require_perm(request, allowed=can_propose, message="Only marketing, sales managers and admins propose changes.")
        else:
            require_perm(request, allowed=can_edit, message="Only admins change the SLA policy.")
        form = sla_form_from_post(request.POST)
        spec = sla_form_check(form)
        if spec is not None and verb == "propose":
            try:
                proposal = proposal_create(kind="sla", spec=spec, reason=reason, by_user=user)
                messages.success(request, f"Proposed a new SLA policy (proposal #{proposal.pk}): an approver publishes or rejects it.")
                return redirect("lifecycle:proposal", proposal_id=proposal.pk)
            except TandemError as exc:
                policy_error = exc.as_dict()
        elif spec is not None:
            try:
                row = sla_policy_publish(spec=spec, reason=reason, by_user=user)
                messages.success(request, f"Published SLA policy version {row.version}.")
                return redirect("lifecycle:sla")
            except TandemError as exc:
                policy_error = exc.as_dict()
        else:
            policy_error = {"detail": "The policy has mistakes: see the fields marked below."}
    else:
        loaded = _proposal_for_editor(request, "sla")
        reason = loaded.proposal.reason if loaded else ""
        form = sla_form_from_spec(spec=loaded.proposal.spec if loaded else policy.to_dict())
        spec = sla_form_check(form)
    raw = {"from": request.GET.get("from", ""), "to": request.GET.get("to", "")}
    try:
        try:
            dates = [dt.date.fromisoformat(raw[k]) if raw[k] else None for k in ("from", "to")]
        except ValueError as exc:
            raise ValidationFailed("Dates are YYYY-MM-DD.", field="from", value=raw["from"] or raw["to"]) from exc
        start, end = period_from_dates(dates[0], dates[1], tz=timezone.get_current_timezone())
        report = sla_scorecard_cached(start=start, end=end)
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
            "can_propose": can_propose,
            "policy_form": form,
            "reason": reason,
            "policy_error": policy_error,
            "policy_history": sla_policy_history(),
            "spec_json": _json_text(spec) if can_edit else "",
            "open_proposals": proposals_open_count(),
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
        "country": view.calendar.country,
        "subdivision": view.calendar.subdivision,
        "reason": "",
        "default": view.is_default,
    }
    if request.method == "POST":
        post = request.POST
        form = {
            "time_zone": post.get("time_zone", ""),
            "hours": [(key, label, post.get(f"hours_{key}", "")) for key, label, _ in view.form_hours()],
            "holidays": post.get("holidays", ""),
            "country": post.get("country", ""),
            "subdivision": post.get("subdivision", ""),
            "reason": post.get("reason", ""),
            "default": post.get("default_hours") == "on",
        }
        try:
            hours = None if form["default"] else {key: shifts_parse(text, day=key) for key, _, text in form["hours"]}
            team_calendar_set(
                team=view.team,
                time_zone=form["time_zone"],
                hours=hours,
                holidays=holidays_parse(form["holidays"]),
                by_user=request.user,
                reason=form["reason"],
                country=form["country"],
                subdivision=form["subdivision"],
            )
            messages.success(request, f"Saved the calendar of {view.team}.")
            return redirect("lifecycle:calendar_edit", team_id=team_id)
        except TandemError as exc:
            error = exc.as_dict()
    year = timezone.localdate().year
    return render(
        request,
        "lifecycle/calendar_edit.html",
        {"view": view, "form": form, "error": error, "public_holidays": view.public_holidays(range(year, year + 2))},
        status=422 if error else 200,
    )


# --- proposals: marketing proposes, an approver publishes or rejects -------------------------------------------

PROPOSAL_FILTERS: tuple[str, ...] = ("open", "published", "rejected", "all")


@login_required
def proposals(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    status = param_choice(request, "status", PROPOSAL_FILTERS, "open")
    kind = param_choice(request, "kind", ("", *PROPOSAL_KINDS), "")
    wanted = "" if status == "all" else status
    error: dict[str, Any] | None = None
    try:
        page = proposals_page(status=wanted, kind=kind, cursor=request.GET.get("cursor", "").strip())
    except TandemError as exc:
        error, page = exc.as_dict(), proposals_page(status=wanted, kind=kind)
    can_grant = user.has_perm(GRANT_PERM)
    return render(
        request,
        "lifecycle/proposals.html",
        {
            "page": page,
            "status": status,
            "kind": kind,
            "statuses": PROPOSAL_FILTERS,
            "kinds": ChangeProposal.Kind.choices,
            "error": error,
            "can_approve": user.has_perm(APPROVE_PERM),
            "can_grant": can_grant,
            "approvers": proposal_approvers() if can_grant else None,
            "roles": Role.choices,
        },
        status=422 if error else 200,
    )


def _proposal(proposal_id: int) -> ProposalView:
    try:
        return proposal_get(proposal_id=proposal_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _compare_for(view: ProposalView) -> DryRunCompare | None:
    p = view.proposal
    return definition_dry_run_compare(stage=p.stage, spec=p.spec) if p.kind == ChangeProposal.Kind.DEFINITION else None


@login_required
def proposal_detail(request: HttpRequest, proposal_id: int) -> HttpResponse:
    user: Any = request.user
    view = _proposal(proposal_id)
    can_approve = user.has_perm(APPROVE_PERM)
    error: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        require_perm(request, allowed=can_approve, message="Only admins, or those they allow, approve or reject proposals.")
        verb, _ = _action(request)
        try:
            if verb == "approve":
                expected = request.POST.get("expect_promoted", "")
                if view.promotes and not expected.isdigit():
                    raise ValidationFailed(
                        "Look at the dry run first: publishing an MQL definition promotes people at once.", field="expect_promoted", value=expected or None
                    )
                done = proposal_approve(proposal=view.proposal, by_user=user, expect_promoted=int(expected) if view.promotes else None)
                promoted = f"; {_people(int(expected))} promoted to MQL" if view.promotes else ""
                messages.success(request, f"Published proposal #{done.pk} as {view.title} version {done.published_version}{promoted}.")
            else:
                proposal_reject(proposal=view.proposal, by_user=user, reason=request.POST.get("decision_reason", ""))
                messages.success(request, f"Rejected proposal #{view.proposal.pk}.")
            return redirect("lifecycle:proposal", proposal_id=view.proposal.pk)
        except TandemError as exc:
            error, status = exc.as_dict(), exc.status_code
            view = _proposal(proposal_id)
    show_dry_run = request.GET.get("dry_run") == "1" or (error is not None and error.get("field") == "expect_promoted")
    return render(
        request,
        "lifecycle/proposal.html",
        {
            "view": view,
            "p": view.proposal,
            "can_approve": can_approve,
            "error": error,
            "decision_reason": request.POST.get("decision_reason", ""),
            "compare": _compare_for(view) if show_dry_run and view.proposal.status == ChangeProposal.Status.OPEN else None,
            "spec_json": _json_text(view.proposal.spec) if user.has_perm(GRANT_PERM) else "",
        },
        status=status,
    )


@login_required
def proposal_dry_run(request: HttpRequest, proposal_id: int) -> HttpResponse:
    """The side-by-side dry run of a definition proposal, loaded into its page (it replays history: ~1 s)."""
    user: Any = request.user
    view = _proposal(proposal_id)
    return render(
        request,
        "lifecycle/partials/proposal_dry_run.html",
        {"view": view, "p": view.proposal, "compare": _compare_for(view), "can_approve": user.has_perm(APPROVE_PERM)},
    )


@login_required
@require_POST
def proposal_approvers_set(request: HttpRequest) -> HttpResponse:
    require_perm(request, GRANT_PERM, message="Only admins choose who approves proposals.")
    allow = request.POST.get("allow") == "1"
    role, username = request.POST.get("role", ""), request.POST.get("username", "")
    try:
        proposal_approver_set(allow=allow, role=role, username=username, by_user=request.user)
        who = f"the {dict(Role.choices).get(role, role)} role" if role else username.strip()
        messages.success(request, f"{who[:1].upper()}{who[1:]} {'may now' if allow else 'may no longer'} approve proposals.")
    except TandemError as exc:
        messages.error(request, f"{exc.message}")
    return redirect(reverse("lifecycle:proposals") + "#approvers")
