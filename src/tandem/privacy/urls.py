from django.urls import path

from tandem.privacy import views

app_name = "privacy"
urlpatterns = [
    path("people/<int:pk>/export/", views.person_export, name="person-export"),
    path("people/<int:pk>/erase/", views.person_erase, name="person-erase"),
]
