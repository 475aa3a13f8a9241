"""Tasks and reminders: a user's day (overdue, today, upcoming, done today), written and read here.

Named "agenda" because `tasks.py` means Huey tasks in every room of this house.
"""
