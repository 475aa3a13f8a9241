import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

CHANNELS = [("email", "E-mail"), ("calls", "Calls")]
SOURCES = [
    ("form", "Web form"),
    ("import", "CSV import"),
    ("bundle", "Bundle import"),
    ("api", "API"),
    ("ui", "Web app"),
    ("migrated", "Before consent records were kept"),
    ("demo", "Demo data"),
]
MIGRATED_NOTE = "consent flag before consent records were kept"


def booleans_to_records(apps, schema_editor):
    # Today's consent flags become each person's first record, dated when the person was created (the flag was
    # set some time after that, so any later real record wins). A false flag writes nothing: no record already
    # means no consent, and a withdrawal nobody made would be a false history. One INSERT … SELECT per
    # channel, so a million people take seconds.
    table = apps.get_model("crm", "ConsentRecord")._meta.db_table
    person_table = apps.get_model("crm", "Person")._meta.db_table
    from django.utils import timezone

    now = timezone.now()
    q = schema_editor.quote_name
    columns = ", ".join(q(c) for c in ("person_id", "channel", "granted", "at", "source", "note", "recorded_at"))
    with schema_editor.connection.cursor() as cursor:
        for channel in ("email", "calls"):
            cursor.execute(
                f"INSERT INTO {q(table)} ({columns}) SELECT {q('id')}, %s, %s, {q('created_at')}, %s, %s, %s "
                f"FROM {q(person_table)} WHERE {q('consent_' + channel)} = %s",
                [channel, True, "migrated", MIGRATED_NOTE, now, True],
            )


def records_to_booleans(apps, schema_editor):
    # Going back: the flags already hold the current state (the consent service kept them), nothing to do.
    pass


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0007_role_permissions_tasks_accounts"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        # Nullable, no default: SQLite adds the column in place (no table rebuild, so search's triggers stay).
        migrations.AddField(
            model_name="person",
            name="erased_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="ConsentRecord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("channel", models.CharField(choices=CHANNELS, max_length=8)),
                ("granted", models.BooleanField()),
                ("at", models.DateTimeField()),
                ("source", models.CharField(choices=SOURCES, max_length=12)),
                ("note", models.TextField(blank=True, default="")),
                ("recorded_at", models.DateTimeField(auto_now_add=True)),
                (
                    "by_user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "person",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="consent_records", to="crm.person"
                    ),
                ),
            ],
            options={
                "ordering": ["-at", "-id"],
                "indexes": [models.Index(fields=["person", "channel", "at", "id"], name="consent_person_latest")],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("channel__in", ["email", "calls"])), name="consent_channel_known"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("source__in", [s for s, _ in SOURCES])), name="consent_source_known"
                    ),
                ],
            },
        ),
        migrations.RunPython(booleans_to_records, records_to_booleans),
    ]
