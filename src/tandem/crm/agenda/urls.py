from django.urls import path

from tandem.crm.agenda import views

app_name = "agenda"
urlpatterns = [
    path("", views.mine, name="mine"),
    path("new/", views.task_new, name="new"),
    path("person/<int:pk>/", views.person_panel, name="person-panel"),
    path("<int:pk>/edit/", views.task_edit, name="edit"),
    path("<int:pk>/done/", views.task_done, name="done"),
    path("<int:pk>/reopen/", views.task_undo, name="reopen"),
    path("<int:pk>/delete/", views.task_remove, name="delete"),
]
