from django.urls import path

from tandem.analytics import views_reports

app_name = "analytics"
urlpatterns = [
    path("funnel/", views_reports.funnel, name="funnel"),
    path("attribution/", views_reports.attribution, name="attribution"),
]
