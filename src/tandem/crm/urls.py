from django.urls import path

from tandem.crm import views

app_name = "crm"
urlpatterns = [
    path("", views.people_list, name="people"),
]
