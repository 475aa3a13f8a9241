from django.contrib.auth import views as auth_views
from django.urls import path

from tandem.ui import views

urlpatterns = [
    path("", views.home, name="home"),
    path("home/admin/", views.home_admin, name="home-admin"),
    path("home/marketing/", views.home_marketing, name="home-marketing"),
    path("home/rep/", views.home_rep, name="home-rep"),
    path("home/manager/", views.home_manager, name="home-manager"),
    path("home/viewer/", views.home_viewer, name="home-viewer"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="users/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    # Django 5 signs out on POST only; the base layout's user menu posts this form.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
]
