"""`tandem run_huey`: Huey's own consumer command, provided here because huey's Django app is not installed.

Installing `huey.contrib.djhuey` as an app would import huey (and with it redis and psycopg) in every `tandem`
command's start-up; this module imports it only when the consumer is asked for (`tandem worker` calls it).
"""

from __future__ import annotations

from huey.contrib.djhuey.management.commands.run_huey import Command as HueyCommand


class Command(HueyCommand):
    help = "Run Huey's queue consumer alone (tandem worker runs it with the capture drain beside it)."
