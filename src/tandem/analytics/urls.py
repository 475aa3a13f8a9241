from django.urls import path

from tandem.analytics import views_dashboard, views_economics, views_reports

app_name = "analytics"
urlpatterns = [
    path("funnel/", views_reports.funnel, name="funnel"),
    path("attribution/", views_reports.attribution, name="attribution"),
    path("economics/", views_economics.economics, name="economics"),
    path("dashboard/", views_dashboard.dashboard, name="dashboard"),
    path("dashboard/goals/", views_dashboard.goal_set_view, name="goal_set"),
    path("weekly/", views_dashboard.weekly, name="weekly"),
]
