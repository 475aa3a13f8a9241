"""The role home pages: each role lands on its own first sketch of a dashboard."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from tandem.campaigns.selectors import campaign_count, campaign_running_list
from tandem.crm.agenda.selectors import task_kind_options, task_outcome_options, tasks_day
from tandem.crm.selectors import (
    crm_totals,
    deal_open_for_owner,
    leads_weekly_by_channel,
    people_count_by_stage,
    person_newest_for_owner,
    team_pipeline,
)
from tandem.crm.stages import FUNNEL
from tandem.users.models import Role
from tandem.users.selectors import user_count, user_home_url_name, user_team_reps

View = Callable[..., HttpResponse]


def role_home(role: Role) -> Callable[[View], View]:
    """Let only users of `role` (and superusers) open a home page; others get 403 naming the page."""

    def decorate(view: View) -> View:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user: Any = request.user
            if not (user.is_superuser or user.role == role):
                raise PermissionDenied(f"This is the {role.label.lower()} home page; yours is linked below.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect(user_home_url_name(user=request.user))  # type: ignore[arg-type]


@role_home(Role.ADMIN)
def home_admin(request: HttpRequest) -> HttpResponse:
    context = {
        "totals": crm_totals(),
        "campaigns": campaign_count(),
        "users": user_count(),
    }
    return render(request, "ui/home_admin.html", context)


@role_home(Role.MARKETING)
def home_marketing(request: HttpRequest) -> HttpResponse:
    leads = leads_weekly_by_channel(now=timezone.localtime())
    labels = [c.label for c in leads.channels]
    top = max([c.this_week for c in leads.channels] + [c.last_week for c in leads.channels], default=0)
    figure = {
        "data": [
            {
                "type": "bar",
                "name": "Last week",
                "x": labels,
                "y": [c.last_week for c in leads.channels],
                "marker": {"color": "#c7cbe6"},
            },
            {
                "type": "bar",
                "name": "This week",
                "x": labels,
                "y": [c.this_week for c in leads.channels],
                "marker": {"color": "#4338ca"},
            },
        ],
        # Whole leads only: small counts would otherwise get ticks at 0.2, 0.4, ...
        "layout": {"barmode": "group", "yaxis": {"dtick": 1} if top < 10 else {}},
    }
    context = {
        "leads": leads,
        "campaigns": campaign_running_list(today=timezone.localdate()),
        "figure": figure,
    }
    return render(request, "ui/home_marketing.html", context)


# The rep's home opens with the day's tasks: what is overdue and what is due today, a few of each.
HOME_TASKS = 5


@role_home(Role.SALES_REP)
def home_rep(request: HttpRequest) -> HttpResponse:
    day = tasks_day(user=request.user, limit=HOME_TASKS, buckets=("overdue", "today"))
    context = {
        "day": day,
        "now": day.now,
        "here": reverse("home-rep"),
        "can_change": request.user.has_perm("crm.change_task"),
        "can_log": request.user.has_perm("crm.add_activity"),
        "kinds": task_kind_options() if day.counts["overdue"] or day.counts["today"] else [],
        "outcomes": task_outcome_options(),
        "stages": [s for s in people_count_by_stage(owner=request.user) if s.count],
        "deals": deal_open_for_owner(owner=request.user),
        "newest": person_newest_for_owner(owner=request.user),
    }
    return render(request, "ui/home_rep.html", context)


@role_home(Role.SALES_MANAGER)
def home_manager(request: HttpRequest) -> HttpResponse:
    month_start = timezone.localtime().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    reps = user_team_reps(manager=request.user)  # type: ignore[arg-type]
    context = {"team": team_pipeline(reps=reps, month_start=month_start), "month": month_start}
    return render(request, "ui/home_manager.html", context)


@role_home(Role.VIEWER)
def home_viewer(request: HttpRequest) -> HttpResponse:
    counts = people_count_by_stage()
    present = [c for c in counts if c.count]
    figure = {
        "data": [
            {
                "type": "pie",
                "hole": 0.55,
                "labels": [c.label for c in present],
                "values": [c.count for c in present],
                "sort": False,
                "textinfo": "percent",
            }
        ],
        "layout": {"margin": {"t": 10, "r": 10, "b": 10, "l": 10}, "legend": {"orientation": "v"}},
    }
    context = {
        "funnel": [c for c in counts if c.stage in FUNNEL],
        "off_funnel": [c for c in counts if c.stage not in FUNNEL],
        "total": sum(c.count for c in counts),
        "figure": figure,
    }
    return render(request, "ui/home_viewer.html", context)
