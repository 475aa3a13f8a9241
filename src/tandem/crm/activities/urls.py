from django.urls import path

from tandem.crm.activities import views

app_name = "activities"
urlpatterns = [
    path("", views.activities_page, name="list"),
    path("kinds/", views.kinds_page, name="kinds"),
    path("kinds/<slug:key>/", views.kind_edit, name="kind-edit"),
    path("people/<int:pk>/log/", views.quicklog, name="quicklog"),
    path("<int:activity_id>/delete/", views.activity_delete, name="delete"),
]
