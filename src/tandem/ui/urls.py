from django.urls import path

from tandem.ui import views

urlpatterns = [
    path("", views.home, name="home"),
    path("home/admin/", views.home_admin, name="home-admin"),
    path("home/marketing/", views.home_marketing, name="home-marketing"),
    path("home/rep/", views.home_rep, name="home-rep"),
    path("home/manager/", views.home_manager, name="home-manager"),
    path("home/viewer/", views.home_viewer, name="home-viewer"),
    # Signing in and out, passwords and two-factor live in tandem.users.urls.
]
