from django.urls import path

from tandem.capture.intake import views

app_name = "intake"
urlpatterns = [
    path("forms/", views.form_list, name="forms"),
    path("forms/new/", views.form_new, name="form_new"),
    path("forms/<int:form_id>/", views.form_detail, name="form"),
    path("forms/<int:form_id>/edit/", views.form_edit, name="form_edit"),
    path("journal/", views.journal, name="journal"),
    path("journal/<int:submission_id>/", views.journal_entry, name="journal_entry"),
    path("journal/<int:submission_id>/replay/", views.journal_replay, name="journal_replay"),
    path("unknown-utm/", views.unknown_utm, name="unknown_utm"),
    path("unknown-utm/<int:unknown_id>/campaign/", views.unknown_utm_campaign, name="unknown_utm_campaign"),
    path("unknown-utm/<int:unknown_id>/ignore/", views.unknown_utm_ignore_view, name="unknown_utm_ignore"),
    path("f/<str:key>/", views.hosted, name="hosted"),
    path("f/<str:key>/thanks/", views.thanks, name="thanks"),
]
