from django.urls import path

from tandem.campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_new, name="campaign-new"),
    path("<int:pk>/", views.campaign_detail, name="campaign"),
    path("<int:pk>/edit/", views.campaign_edit, name="campaign-edit"),
    path("<int:pk>/clone/", views.campaign_clone_view, name="campaign-clone"),
    path("<int:pk>/close/", views.campaign_close_view, name="campaign-close"),
    path("<int:pk>/costs/", views.campaign_cost_new, name="cost-new"),
    path("<int:pk>/costs/<int:cost_id>/delete/", views.campaign_cost_remove, name="cost-delete"),
    path("calendar/", views.calendar, name="calendar"),
    path("people/<int:person_id>/", views.person_campaigns, name="person-campaigns"),
]
