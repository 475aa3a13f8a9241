"""The integrations app's tables, defined in its sub-packages (Django finds an app's models here)."""

from tandem.integrations.calendar.models import CalendarFeed
from tandem.integrations.mail.models import MailSend, MailSubscription, TrackedLink

__all__ = ["CalendarFeed", "MailSend", "MailSubscription", "TrackedLink"]
