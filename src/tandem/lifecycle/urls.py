from django.urls import path

from tandem.lifecycle import views

app_name = "lifecycle"
urlpatterns = [
    path("definitions/", views.definitions, name="definitions"),
    path("proposals/", views.proposals, name="proposals"),
    path("proposals/approvers/", views.proposal_approvers_set, name="proposal_approvers"),
    path("proposals/<int:proposal_id>/", views.proposal_detail, name="proposal"),
    path("proposals/<int:proposal_id>/dry-run/", views.proposal_dry_run, name="proposal_dry_run"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/<int:person_id>/accept/", views.inbox_accept, name="inbox_accept"),
    path("inbox/<int:person_id>/reject/", views.inbox_reject, name="inbox_reject"),
    path("routing/", views.routing, name="routing"),
    path("sla/", views.sla, name="sla"),
    path("sla/calendars/", views.calendars, name="calendars"),
    path("sla/calendars/<int:team_id>/", views.calendar_edit, name="calendar_edit"),
]
