"""Every page of the UI as a URL: each URL pattern outside /api/ and /admin/, its arguments taken from the
database (the demo company's first record of the right kind). Used by the security-header tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver


def _patterns(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p.url_patterns, prefix + str(p.pattern))
        else:
            yield prefix + str(p.pattern), p


def _first(model_path: str, field: str = "pk", **filters: Any) -> Callable[[], Any]:
    def get() -> Any:
        from django.apps import apps

        app_label, name = model_path.split(".")
        model = apps.get_model(app_label, name)
        return model.objects.filter(**filters).order_by("pk").values_list(field, flat=True).first()

    return get


# (start of the route, argument name) -> where its value comes from; the longest matching start wins.
ARGUMENTS: dict[tuple[str, str], Callable[[], Any]] = {
    ("people/", "pk"): _first("crm.Person"),
    ("people/", "other"): lambda: (
        _first("crm.Person")() and _first("crm.Person", pk__gt=_first("crm.Person")())()
    ),
    ("people/deals/", "deal_id"): _first("crm.Deal"),
    ("people/lost-reasons/", "reason_id"): _first("crm.LostReason"),
    ("activities/kinds/", "key"): _first("crm.ActivityType", "key"),
    ("activities/people/", "pk"): _first("crm.Person"),
    ("activities/", "activity_id"): _first("crm.Activity"),
    ("accounts/", "pk"): _first("crm.Account"),
    ("tasks/", "pk"): _first("crm.Task"),
    ("tasks/person/", "pk"): _first("crm.Person"),
    ("pipelines/", "pipeline_id"): _first("crm.Pipeline"),
    ("pipelines/", "stage_id"): _first("crm.PipelineStage"),
    ("pipelines/", "deal_id"): _first("crm.Deal"),
    ("pipelines/", "person_id"): _first("crm.Person"),
    ("campaigns/", "pk"): _first("campaigns.Campaign"),
    ("campaigns/", "cost_id"): _first("campaigns.CampaignCost"),
    ("campaigns/people/", "person_id"): _first("crm.Person"),
    ("requests/", "pk"): _first("collateral.CollateralRequest"),
    ("data/imports/", "job_id"): _first("capture.ImportJob"),
    ("forms/", "form_id"): _first("capture.Form"),
    ("journal/", "submission_id"): _first("capture.Submission"),
    ("unknown-utm/", "unknown_id"): _first("capture.UnknownUtm"),
    ("f/", "key"): _first("capture.Form", "public_key"),
    ("proposals/", "proposal_id"): _first("lifecycle.ChangeProposal"),
    ("inbox/", "person_id"): _first("crm.Person"),
    ("sla/calendars/", "team_id"): _first("users.Team"),
    ("statistics/experiments/", "name"): _first("analytics.Experiment", "name"),
    ("jobs/", "job_id"): _first("core.Job"),
    # Addresses opened by a secret token: a made-up one walks their 404 page.
    ("calendar/", "token"): lambda: "not-a-token",
    ("mail/unsubscribe/", "token"): lambda: "not-a-token",
    ("l/", "token"): lambda: "not-a-token",
    ("webhooks/", "endpoint_id"): _first("webhooks.Endpoint"),
    ("webhooks/deliveries/", "delivery_id"): _first("webhooks.Delivery"),
    ("scoring/training/", "job_id"): _first("core.Job"),
    ("enablement/assets/", "pk"): _first("enablement.Asset"),
    ("enablement/uses/", "pk"): _first("enablement.ContentUse"),
    ("enablement/people/", "person_id"): _first("crm.Person"),
    ("enablement/personas/", "pk"): _first("enablement.Persona"),
    ("enablement/objections/", "pk"): _first("enablement.Objection"),
    ("feedback/people/", "pk"): _first("crm.Person"),
    ("privacy/people/", "pk"): _first("crm.Person"),
    ("feedback/themes/", "theme_id"): _first("feedback.Theme"),
    ("feedback/themes/mining/", "job_id"): _first("core.Job"),
    ("audiences/", "pk"): _first("audiences.Audience"),
}


def _argument(route: str, name: str) -> Any:
    starts = [start for start, arg in ARGUMENTS if arg == name and route.startswith(start)]
    if not starts:
        return None
    try:
        return ARGUMENTS[(max(starts, key=len), name)]()
    except LookupError:  # a model that is not there (an app renamed): the page is left out, not the walk
        return None


def page_urls() -> tuple[list[str], list[str]]:
    """(URLs of every UI page that the database can fill, the routes it could not)."""
    urls, left_out = [], []
    for route, pattern in _patterns(get_resolver().url_patterns):
        if route.startswith(("api/", "admin/")):
            continue
        names = list(pattern.pattern.converters)
        values = {name: _argument(route, name) for name in names}
        if any(v is None for v in values.values()):
            left_out.append(route)
            continue
        url = "/" + route
        for name, value in values.items():
            url = _fill(url, name, value)
        urls.append(url)
    return urls, left_out


def _fill(url: str, name: str, value: Any) -> str:
    import re

    return re.sub(r"<(?:\w+:)?" + re.escape(name) + ">", str(value), url, count=1)
