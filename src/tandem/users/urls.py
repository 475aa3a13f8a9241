from django.contrib.auth import views as auth_views
from django.urls import path

from tandem.users import views

# No namespace: Django's auth views and LOGIN_URL know these pages by their plain names (login, password_change...).
urlpatterns = [
    path("login/", views.SignInView.as_view(), name="login"),
    path("login/code/", views.signin_code, name="signin-code"),
    # Django 5 signs out on POST only; the base layout's user menu posts this form.
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/", views.account, name="account"),
    path("account/password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("account/password/done/", views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("account/two-factor/", views.account_two_factor, name="account-two-factor"),
    path("account/two-factor/remove/", views.account_two_factor_remove, name="account-two-factor-remove"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password-reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("sign-in/", views.signin_admin, name="signin-admin"),
    path("teams/access/", views.team_access, name="team-access"),
    path("sign-in/unlock/", views.signin_admin_unlock, name="signin-unlock"),
    path("sign-in/force-reset/", views.signin_admin_force_reset, name="signin-force-reset"),
]
