from django.urls import path

from tandem.analytics.dashboard import views as dashboard_views
from tandem.analytics.economics import views as economics_views
from tandem.analytics.reports import views as reports_views

app_name = "analytics"
urlpatterns = [
    path("funnel/", reports_views.funnel, name="funnel"),
    path("attribution/", reports_views.attribution, name="attribution"),
    path("economics/", economics_views.economics, name="economics"),
    path("dashboard/", dashboard_views.dashboard, name="dashboard"),
    path("dashboard/goals/", dashboard_views.goal_set_view, name="goal_set"),
    path("weekly/", dashboard_views.weekly, name="weekly"),
]
