from django.urls import path

from tandem.capture import views
from tandem.capture.csvimport import views as imports

app_name = "capture"
urlpatterns = [
    path("", views.data_page, name="data"),
    path("import/", views.data_import, name="import"),
    path("export/", views.data_export, name="export"),
    path("imports/", imports.imports_page, name="imports"),
    path("imports/upload/", imports.import_upload, name="import-upload"),
    path("imports/<int:job_id>/", imports.import_job_page, name="import-job"),
    path("imports/<int:job_id>/setup/", imports.import_setup, name="import-setup"),
    path("imports/<int:job_id>/progress/", imports.import_job_progress, name="import-progress"),
    path("imports/<int:job_id>/run/", imports.import_job_run_for_real, name="import-run"),
    path("imports/<int:job_id>/refused.csv", imports.import_job_refused, name="import-refused"),
]
