from django.urls import path

from tandem.analytics.statistics import views as views_stats

app_name = "stats"
urlpatterns = [
    path("", views_stats.spc_page, name="spc"),
    path("segments/", views_stats.segments_page, name="segments"),
    path("experiments/", views_stats.experiments_page, name="experiments"),
    path("experiments/<str:name>/", views_stats.experiment_page, name="experiment"),
    path("experiments/<str:name>/import/", views_stats.experiment_import, name="experiment_import"),
]
