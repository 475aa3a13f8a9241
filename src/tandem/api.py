"""The REST API: one NinjaAPI with a router per app; OpenAPI docs at /api/docs."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError
from ninja.openapi.docs import Swagger
from ninja.openapi.schema import OpenAPISchema

from tandem.core.apicontract import json_method_not_allowed, openapi_errors_declare, strict_inputs_install
from tandem.core.apiversion import API_VERSION
from tandem.core.errors import TandemError
from tandem.users.auth import API_AUTH, TokenAuth
from tandem.webhooks.catalog import webhooks_openapi


def _docs_access(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """/api/docs and /api/openapi.json for signed-in users (or a personal token), unless TANDEM_PUBLIC_API_DOCS."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if settings.PUBLIC_API_DOCS or request.user.is_authenticated or TokenAuth()(request) is not None:
            return view(request, *args, **kwargs)
        if request.path_info.endswith(".json"):
            return JsonResponse({"detail": "authentication required"}, status=401)
        return redirect_to_login(request.get_full_path())

    return guarded


class TandemAPI(NinjaAPI):
    """The API with its error contract: every operation declares the statuses it can answer (one `Error` body),
    and a method a path does not offer answers 405 as JSON (tandem.core.apicontract, docs/api.md#errors).
    Inputs are read as the schema states them: a JSON body strictly as JSON, no number taken for a date."""

    strict_inputs = True

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        document = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        declared = openapi_errors_declare(document)
        # Keep ninja's OpenAPISchema type (its docs views expect it), with the declared paths and components.
        document["paths"], document["components"] = declared["paths"], declared["components"]
        # OpenAPI 3.1's `webhooks`: what Tandem POSTs to subscribers, one entry per event type with its schema.
        document["webhooks"] = webhooks_openapi()
        return document

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = json_method_not_allowed(pattern.callback)
        return urls


class LocalSwagger(Swagger):
    """Swagger UI rendered from django-ninja's own template and static files, never from a CDN.

    Ninja picks its CDN template unless "ninja" is an installed app; it is not one (importing it would add a
    tenth of a second to every `tandem` command's start-up), so its template folder is in TEMPLATES' DIRS and
    its static folder in STATICFILES_DIRS (settings.py), and this renders the local template directly.
    """

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        from django.shortcuts import render
        from ninja.openapi.docs import _csrf_needed

        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {"swagger_settings": json.dumps(self.settings, indent=1), "api": api, "add_csrf": _csrf_needed(api)}
        return render(request, self.template, context)


strict_inputs_install()
api = TandemAPI(
    title="Tandem API",
    # The major version: /api/ is v1 and changes only additively; every answer says it in API-Version.
    version=API_VERSION,
    description="Sales and marketing on one measured system. Authenticate with your session or a personal "
    "token (`tandem users token USERNAME`) sent as `Authorization: Bearer <token>`. Lists page with `cursor` and "
    "`limit`; creates take an optional `Idempotency-Key` header; every answer carries `API-Version: 1`, and a "
    "deprecated parameter answers `Deprecation` and `Link` headers (docs/api.md).",
    auth=API_AUTH,
    urls_namespace="api",
    docs=LocalSwagger(),
    docs_decorator=_docs_access,
)


@api.exception_handler(TandemError)
def _tandem_error(request: HttpRequest, exc: TandemError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status_code)


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = []
    for err in exc.errors:
        loc = [str(p) for p in err.get("loc", []) if p not in ("body", "query", "path", "payload")]
        errors.append({"field": ".".join(loc), "message": err.get("msg", "invalid")})
    first = errors[0] if errors else {"field": "", "message": "invalid input"}
    return api.create_response(
        request, {"detail": f"{first['field'] or 'input'}: {first['message']}", "errors": errors}, status=422
    )


@api.exception_handler(AuthenticationError)
def _auth_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return api.create_response(request, {"detail": "authentication required"}, status=401)


def _register() -> None:
    from tandem.analytics.dashboard.api import router as dashboard_router
    from tandem.analytics.economics.api import router as economics_router
    from tandem.analytics.reports.api import router as reports_router
    from tandem.analytics.statistics.api import router as stats_router
    from tandem.audiences.api import router as audiences_router
    from tandem.campaigns.api import router as campaigns_router
    from tandem.capture.api import router as capture_router
    from tandem.capture.csvimport.api import router as imports_router
    from tandem.capture.intake.api import router as intake_router
    from tandem.core.jobs.api import router as jobs_router
    from tandem.crm.accounts.api import router as accounts_router
    from tandem.crm.activities.api import router as activities_router
    from tandem.crm.agenda.api import router as tasks_router
    from tandem.crm.api import lost_reasons_router
    from tandem.crm.api import router as crm_router
    from tandem.crm.audit.api import router as audit_router
    from tandem.crm.consent.api import router as consent_router
    from tandem.crm.pipelines.api import deals_router
    from tandem.crm.pipelines.api import router as pipelines_router
    from tandem.enablement.api import router as enablement_router
    from tandem.enablement.requests.api import router as collateral_router
    from tandem.feedback.api import router as feedback_router
    from tandem.integrations.calendar.api import router as calendar_feed_router
    from tandem.integrations.mail.api import router as mail_router
    from tandem.lifecycle.api import router as lifecycle_router
    from tandem.privacy.api import router as privacy_router
    from tandem.scoring.api import router as scoring_router
    from tandem.search.api import router as search_router
    from tandem.users.api import router as signin_router
    from tandem.webhooks.api import router as webhooks_router

    api.add_router("/", crm_router)
    api.add_router("/", consent_router)
    api.add_router("/", privacy_router)
    api.add_router("/", deals_router)
    api.add_router("/", pipelines_router)
    api.add_router("/", activities_router)
    api.add_router("/", accounts_router)
    api.add_router("/", tasks_router)
    api.add_router("/", audit_router)
    api.add_router("/", capture_router)
    api.add_router("/", imports_router)
    api.add_router("/", intake_router)
    api.add_router("/", scoring_router)
    api.add_router("/", reports_router)
    api.add_router("/", economics_router)
    api.add_router("/", lifecycle_router)
    api.add_router("/", stats_router)
    api.add_router("/", feedback_router)
    api.add_router("/", lost_reasons_router)
    api.add_router("/", audiences_router)
    api.add_router("/", enablement_router)
    api.add_router("/", dashboard_router)
    api.add_router("/", collateral_router)
    api.add_router("/", campaigns_router)
    api.add_router("/", search_router)
    api.add_router("/", signin_router)
    api.add_router("/", jobs_router)
    api.add_router("/", mail_router)
    api.add_router("/", calendar_feed_router)
    api.add_router("/", webhooks_router)


_register()
