from django.contrib import admin
from django.urls import include, path

from tandem.api import api
from tandem.core import operations

urlpatterns = [
    # Probes and the Prometheus scrape (docs/operations.md): no session, no sign-in.
    path("healthz", operations.healthz, name="healthz"),
    path("readyz", operations.readyz, name="readyz"),
    path("metrics", operations.metrics, name="metrics"),
    # First: capture posts arrive here by the thousand, and resolving walks the list in order.
    path("api/", api.urls),
    path("", include("tandem.ui.urls")),
    # Sign-in, the account page, password change and reset, two-factor, the admins' sign-in page.
    path("", include("tandem.users.urls")),
    path("people/", include("tandem.crm.urls")),
    path("activities/", include("tandem.crm.activities.urls")),
    path("accounts/", include("tandem.crm.accounts.urls")),
    path("tasks/", include("tandem.crm.agenda.urls")),
    path("audit/", include("tandem.crm.audit.urls")),
    path("pipelines/", include("tandem.crm.pipelines.urls")),
    path("campaigns/", include("tandem.campaigns.urls")),
    path("search/", include("tandem.search.urls")),
    path("jobs/", include("tandem.core.jobs.urls")),
    path("requests/", include("tandem.enablement.requests.urls")),
    path("data/", include("tandem.capture.urls")),
    path("", include("tandem.capture.intake.urls")),
    path("", include("tandem.lifecycle.urls")),
    path("statistics/", include("tandem.analytics.statistics.urls")),
    path("scoring/", include("tandem.scoring.urls")),
    path("enablement/", include("tandem.enablement.urls")),
    path("feedback/", include("tandem.feedback.urls")),
    path("reports/", include("tandem.analytics.urls")),
    path("audiences/", include("tandem.audiences.urls")),
    path("privacy/", include("tandem.privacy.urls")),
    path("webhooks/", include("tandem.webhooks.urls")),
    # Your e-mail and calendar feed (account area), and the addresses a secret token opens: /calendar/<token>.ics,
    # /mail/unsubscribe/<token>/, /l/<token>.
    path("", include("tandem.integrations.urls")),
    path("admin/", admin.site.urls),
]

# Under /api/ errors answer the documented JSON `Error` (docs/api.md#errors); elsewhere the HTML pages.
handler400 = "tandem.core.apicontract.bad_request"
handler403 = "tandem.core.apicontract.permission_denied"
handler404 = "tandem.core.apicontract.page_not_found"
handler500 = "tandem.core.apicontract.server_error"
