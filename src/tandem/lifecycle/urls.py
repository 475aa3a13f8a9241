from django.urls import path

from tandem.lifecycle import views

app_name = "lifecycle"
urlpatterns = [
    path("definitions/", views.definitions, name="definitions"),
]
