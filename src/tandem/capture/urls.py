from django.urls import path

from tandem.capture import views

app_name = "capture"
urlpatterns = [
    path("", views.data_page, name="data"),
    path("import/", views.data_import, name="import"),
    path("export/", views.data_export, name="export"),
]
