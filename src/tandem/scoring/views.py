"""Pages of scoring: the model page (metrics, calibration, lift, importance) and the rep's queue."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from tandem.core.errors import NotFound, TandemError, ValidationFailed
from tandem.core.http import require_perm
from tandem.core.jobs.selectors import job_for_page, job_of_kind
from tandem.core.jobs.views import job_fragment
from tandem.scoring import selectors
from tandem.scoring.services import TRAIN_JOB, scoring_rules_update, scoring_train_start
from tandem.users.models import Role

VIEW_ROLES = frozenset({Role.ADMIN, Role.MARKETING, Role.SALES_MANAGER})
TITLES = {"model": "Model", "naive_bayes": "Naive Bayes baseline", "rule_score": "Rule score baseline"}


def _calibration_figure(evaluations: dict[str, Any]) -> dict[str, Any]:
    data: list[dict[str, Any]] = [
        {"x": [0, 1], "y": [0, 1], "mode": "lines", "name": "perfect", "line": {"dash": "dot", "color": "#999"}}
    ]
    for name, evaluation in evaluations.items():
        bins = [b for b in evaluation.get("calibration", []) if b.get("count")]
        data.append(
            {
                "x": [b["mean_predicted"] for b in bins],
                "y": [b["observed_rate"] for b in bins],
                "text": [f"{b['count']} people" for b in bins],
                "mode": "lines+markers",
                "name": TITLES.get(name, name),
            }
        )
    return {
        "data": data,
        "layout": {
            "xaxis": {"title": {"text": "predicted probability"}, "tickformat": ".0%"},
            "yaxis": {"title": {"text": "observed win rate"}, "tickformat": ".0%"},
            "margin": {"t": 10, "r": 10},
        },
    }


def _lift_figure(evaluations: dict[str, Any]) -> dict[str, Any]:
    data = [
        {
            "type": "bar",
            "x": [d["decile"] for d in evaluation.get("lift", [])],
            "y": [d["lift"] for d in evaluation.get("lift", [])],
            "name": TITLES.get(name, name),
        }
        for name, evaluation in evaluations.items()
    ]
    return {
        "data": data,
        "layout": {
            "barmode": "group",
            "xaxis": {"title": {"text": "decile (1 = highest scores)"}, "dtick": 1},
            "yaxis": {"title": {"text": "lift (× average win rate)"}},
            "margin": {"t": 10, "r": 10},
        },
    }


def _importance_figure(importance: list[dict[str, Any]]) -> dict[str, Any]:
    top = importance[:15][::-1]
    return {
        "data": [{"type": "bar", "orientation": "h", "x": [i["auc_drop"] for i in top], "y": [i["label"] for i in top]}],
        "layout": {"xaxis": {"title": {"text": "AUC lost when shuffled"}}, "margin": {"t": 10, "r": 10, "l": 220}},
    }


@login_required
def model_page(request: HttpRequest) -> HttpResponse:
    """The current model's metrics against both baselines, with charts and the tiers."""
    require_perm(request, allowed=getattr(request.user, "role", "") in VIEW_ROLES, message="Only admins, marketing and sales managers see the scoring model.")
    row = selectors.scoring_model_for_report()
    training = job_for_page(kind=TRAIN_JOB)
    context: dict[str, Any] = {
        "row": row,
        "versions": list(selectors.scoring_models_list()[:10]),
        "training": training,
        "training_poll": reverse("scoring:training", args=[training.pk]) if training else "",
        "can_train": getattr(request.user, "role", "") == Role.ADMIN,
    }
    if row is not None:
        context |= {
            "summaries": [
                (TITLES.get(name, name), e) for name, e in row.evaluations.items()
            ],
            "calibration_figure": _calibration_figure(row.evaluations),
            "lift_figure": _lift_figure(row.evaluations),
            "importance_figure": _importance_figure(row.feature_importance),
            "by_source": selectors.value_by_source(),
        }
    return render(request, "scoring/model.html", context)


@require_POST
@login_required
def train(request: HttpRequest) -> HttpResponse:
    """The Train button (admins): start training in the background and go back to the page, which follows it."""
    require_perm(request, allowed=getattr(request.user, "role", "") == Role.ADMIN, message="Only admins train scoring models.")
    try:
        scoring_train_start(by_user=request.user)
        messages.success(request, "Training started; this page follows it.")
    except TandemError as exc:
        messages.error(request, exc.message)
    return redirect("scoring:model")


@require_GET
@login_required
def training_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    """The training job's progress fragment, for everyone who may see the model page."""
    require_perm(request, allowed=getattr(request.user, "role", "") in VIEW_ROLES, message="Only admins, marketing and sales managers see the scoring model.")
    try:
        job = job_of_kind(job_id=job_id, kind=TRAIN_JOB)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return job_fragment(request, job=job, poll_url=reverse("scoring:training", args=[job.pk]))


@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """The signed-in rep's open leads, sorted by expected value (or probability, or newest)."""
    order = request.GET.get("order", "expected_value")
    if order not in selectors.QUEUE_ORDERS:
        order = "expected_value"
    people = selectors.rep_queue(user=request.user, order=order)
    orders = [("expected_value", "expected value"), ("probability", "probability"), ("created", "newest")]
    return render(request, "scoring/queue.html", {"people": people, "order": order, "orders": orders})


@login_required
def rules(request: HttpRequest) -> HttpResponse:
    """The fit rules and engagement points in force; admins save a new version (everyone is rescored)."""
    require_perm(request, allowed=getattr(request.user, "role", "") in VIEW_ROLES, message="Only admins, marketing and sales managers see the scoring rules.")
    can_edit = getattr(request.user, "role", "") == Role.ADMIN
    current = selectors.scoring_rules_current()
    form = {
        "fit": json.dumps(current.fit.to_dict(), indent=2),
        "engagement": json.dumps(current.engagement.to_dict(), indent=2),
        "cutoff_days": f"{current.cutoff_days:g}",
    }
    error: dict[str, Any] | None = None
    status = 200
    if request.method == "POST":
        require_perm(request, allowed=can_edit, message="Only admins edit the scoring rules.")
        form = {k: request.POST.get(k, "") for k in ("fit", "engagement", "cutoff_days")}
        try:
            parsed: dict[str, Any] = {}
            for name in ("fit", "engagement"):
                try:
                    parsed[name] = json.loads(form[name])
                except json.JSONDecodeError as exc:
                    raise ValidationFailed(f"Not valid JSON: {exc.msg} (line {exc.lineno}).", field=name) from exc
                if not isinstance(parsed[name], dict):
                    raise ValidationFailed("Expected a JSON object.", field=name, value=parsed[name])
            try:
                cutoff = float(form["cutoff_days"])
            except ValueError as exc:
                raise ValidationFailed("Not a number.", field="cutoff_days", value=form["cutoff_days"]) from exc
            row = scoring_rules_update(fit=parsed["fit"], engagement=parsed["engagement"], cutoff_days=cutoff, by_user=request.user)
            messages.success(request, f"Saved scoring rules version {row.version}; everyone is being rescored.")
            return redirect("scoring:rules")
        except TandemError as exc:
            error, status = exc.as_dict(), 422
    context = {"current": current, "can_edit": can_edit, "form": form, "error": error, "history": selectors.scoring_rules_history()}
    return render(request, "scoring/rules.html", context, status=status)
