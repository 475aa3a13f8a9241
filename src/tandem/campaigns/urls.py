from django.urls import path

from tandem.campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("<int:pk>/", views.campaign_detail, name="campaign"),
    path("<int:pk>/edit/", views.campaign_edit, name="campaign-edit"),
    path("calendar/", views.calendar, name="calendar"),
    path("people/<int:person_id>/", views.person_campaigns, name="person-campaigns"),
]
