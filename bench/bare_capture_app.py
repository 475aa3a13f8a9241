"""The yardstick for bench_capture.py: a bare Django + django-ninja endpoint that inserts one row per POST.

Settings, URLs and the WSGI application in one module, with the same database options Tandem uses (WAL,
IMMEDIATE transactions, synchronous=NORMAL on SQLite). It does what any JSON insert endpoint must do and
nothing else: parse the body with a typed schema, insert a row, answer 201. Served by gunicorn sync workers:
    gunicorn bench.bare_capture_app:application
"""

from __future__ import annotations

import os

import django
from django.conf import settings

from tandem.settings import _database

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="bench-only-not-secret",
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        DATABASES={"default": _database(os.environ["TANDEM_DATABASE_URL"])},
        USE_TZ=True,
    )
    django.setup()

from django.db import connection, transaction
from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI, Schema

api = NinjaAPI(urls_namespace="bare")


class SubmissionIn(Schema):
    email: str
    first_name: str = ""
    utm_campaign: str = ""


@api.post("/submit", response={201: dict})
def submit(request: HttpRequest, payload: SubmissionIn) -> tuple[int, dict[str, int]]:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO bare_submission (email, first_name, utm_campaign, body) VALUES (%s, %s, %s, %s) RETURNING id",
            [payload.email, payload.first_name, payload.utm_campaign, request.body.decode()],
        )
        row_id = cursor.fetchone()[0]
    return 201, {"id": row_id}


urlpatterns = [path("api/", api.urls)]


def create_table() -> None:
    """The one table the bare endpoint writes."""
    key = "INTEGER PRIMARY KEY AUTOINCREMENT" if connection.vendor == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bare_submission")
        cursor.execute(
            f"CREATE TABLE bare_submission (id {key}, email TEXT NOT NULL, first_name TEXT NOT NULL, "
            "utm_campaign TEXT NOT NULL, body TEXT NOT NULL)"
        )


if os.environ.get("BARE_CREATE_TABLE") == "1":
    create_table()

from django.core.wsgi import get_wsgi_application  # noqa: E402

application = get_wsgi_application()
