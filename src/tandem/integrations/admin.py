"""Django admin for integrations: the sub-domains register their tables."""

from tandem.integrations.calendar import admin as calendar_admin  # noqa: F401
from tandem.integrations.mail import admin as mail_admin  # noqa: F401
