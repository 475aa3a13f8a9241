from django.urls import path

from tandem.feedback import views

app_name = "feedback"
urlpatterns = [
    path("people/<int:pk>/panel/", views.person_panel, name="person-panel"),
    path("people/<int:pk>/questions/", views.question_new, name="question-new"),
    path("people/<int:pk>/ratings/", views.rating_new, name="rating-new"),
    path("themes/", views.themes_page, name="themes"),
    path("themes/mine/", views.themes_mine_view, name="themes-mine"),
    path("themes/mining/<int:job_id>/", views.themes_mining_progress, name="themes-mining"),
    path("themes/<int:theme_id>/", views.theme_page, name="theme"),
    path("themes/<int:theme_id>/rename/", views.theme_rename_view, name="theme-rename"),
    path("themes/<int:theme_id>/merge/", views.theme_merge_view, name="theme-merge"),
    path("themes/<int:theme_id>/split/", views.theme_split_view, name="theme-split"),
]
