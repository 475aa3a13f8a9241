from django.urls import path

from tandem.audiences import views

app_name = "audiences"
urlpatterns = [
    path("", views.audience_list, name="list"),
    path("new/", views.audience_new, name="new"),
    path("preview/", views.audience_preview, name="preview"),
    path("<int:pk>/", views.audience_detail, name="detail"),
    path("<int:pk>/edit/", views.audience_edit, name="edit"),
    path("<int:pk>/members/", views.audience_members, name="members"),
    path("<int:pk>/export/", views.audience_export, name="export"),
    path("<int:pk>/delete/", views.audience_delete, name="delete"),
]
