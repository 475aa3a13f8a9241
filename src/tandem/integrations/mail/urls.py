from django.urls import path

from tandem.integrations.mail import views

urlpatterns = [
    path("account/mail/", views.subscriptions, name="mail"),
    # Opened without a session: the signed token in the address is the authority (the sign-in gate lets it pass).
    path("mail/unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("l/<str:token>", views.link, name="link"),
]
