from django.urls import path

from tandem.integrations.calendar import views

urlpatterns = [
    path("account/calendar/", views.feed_settings, name="calendar"),
    path("account/calendar/revoke/", views.feed_revoke, name="calendar-revoke"),
    # Opened by calendar apps without a session: the secret token is the authority (the sign-in gate lets it pass).
    path("calendar/<str:token>.ics", views.feed, name="calendar-feed"),
]
