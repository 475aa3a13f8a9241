"""Sales activities: calls, e-mails, meetings and notes (the tables are crm.models.Activity and ActivityType)."""
