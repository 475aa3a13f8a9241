"""Background work of integrations; the worker loads tasks from each app's tasks module."""

from tandem.integrations.mail.tasks import content_email_task, scheduled_mail  # noqa: F401
