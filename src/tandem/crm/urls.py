from django.urls import path

from tandem.crm import views
from tandem.crm.consent import views as consent_views
from tandem.crm.pipelines import views as pipeline_views

app_name = "crm"
urlpatterns = [
    path("", views.people_list, name="people"),
    path("new/", views.person_new, name="person-new"),
    path("<int:pk>/", views.person_detail, name="person"),
    path("<int:pk>/edit/", views.person_edit, name="person-edit"),
    path("<int:pk>/stage/", views.person_stage, name="person-stage"),
    path("<int:pk>/consent/", consent_views.consent_panel, name="person-consent"),
    path("<int:pk>/deals/", views.deal_new, name="deal-new"),
    # The deal page belongs to crm.pipelines; it keeps crm's name so every link to a deal reads crm:deal.
    path("deals/<int:deal_id>/", pipeline_views.deal_detail, name="deal"),
    path("deals/<int:deal_id>/close/", views.deal_close_view, name="deal-close"),
    path("duplicates/", views.duplicates, name="duplicates"),
    path("<int:pk>/merge/<int:other>/", views.merge, name="merge"),
    path("lost-reasons/", views.lost_reasons, name="lost-reasons"),
    path("lost-reasons/<int:reason_id>/", views.lost_reason_edit, name="lost-reason-edit"),
    path("lost-reasons/options/", views.lost_reason_options, name="lost-reason-options"),
]
