"""The pages of integrations, one namespace: mail (subscriptions, unsubscribe, tracked links) and calendar feeds."""

from tandem.integrations.calendar.urls import urlpatterns as calendar_urls
from tandem.integrations.mail.urls import urlpatterns as mail_urls

app_name = "integrations"
urlpatterns = [*mail_urls, *calendar_urls]
