from django.urls import path

from tandem.crm.pipelines import views

app_name = "pipelines"
urlpatterns = [
    path("", views.board, name="home"),
    path("<int:pipeline_id>/", views.board, name="board"),
    path("<int:pipeline_id>/stages/<int:stage_id>/cards/", views.board_column, name="column"),
    path("move/", views.deal_move, name="move"),
    path("forecast/", views.forecast, name="forecast"),
    path("settings/", views.settings, name="settings"),
    path("settings/new/", views.pipeline_new, name="pipeline-new"),
    path("settings/<int:pipeline_id>/", views.pipeline_edit, name="pipeline-edit"),
    path("settings/<int:pipeline_id>/stages/new/", views.stage_new, name="stage-new"),
    path("settings/stages/<int:stage_id>/", views.stage_edit, name="stage-edit"),
    path("settings/stages/<int:stage_id>/move/", views.stage_move, name="stage-move"),
    path("settings/stages/<int:stage_id>/deactivate/", views.stage_deactivate, name="stage-deactivate"),
    path("settings/stages/<int:stage_id>/delete/", views.stage_delete, name="stage-delete"),
    path("deals/<int:deal_id>/edit/", views.deal_edit, name="deal-edit"),
    path("deals/<int:deal_id>/contacts/", views.deal_contact_add, name="contact-add"),
    path("deals/<int:deal_id>/contacts/<int:person_id>/remove/", views.deal_contact_remove, name="contact-remove"),
]
