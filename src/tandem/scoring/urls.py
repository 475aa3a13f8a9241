from django.urls import path

from tandem.scoring import views

app_name = "scoring"
urlpatterns = [
    path("", views.model_page, name="model"),
    path("queue/", views.queue, name="queue"),
    path("rules/", views.rules, name="rules"),
    path("train/", views.train, name="train"),
    path("training/<int:job_id>/", views.training_progress, name="training"),
]
