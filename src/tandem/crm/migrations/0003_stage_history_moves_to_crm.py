"""The stage history (StageChange) moves from lifecycle to crm, its table renamed; no row changes.

The state of the model is created here first with lifecycle's table name, the table is then renamed to
crm's, and lifecycle.0008 drops the old state. Its content type is relabelled, so the permissions role
groups already hold (and admin log entries) follow the model instead of being orphaned.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

STAGES = [
    ("subscriber", "Subscriber"),
    ("lead", "Lead"),
    ("mql", "MQL"),
    ("sal", "SAL"),
    ("sql", "SQL"),
    ("opportunity", "Opportunity"),
    ("customer", "Customer"),
    ("recycled", "Recycled"),
    ("disqualified", "Disqualified"),
]


def relabel_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    if ContentType.objects.filter(app_label="crm", model="stagechange").exists():
        return
    ContentType.objects.filter(app_label="lifecycle", model="stagechange").update(app_label="crm")


def restore_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="crm", model="stagechange").update(app_label="lifecycle")


class Migration(migrations.Migration):
    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("crm", "0002_foreign_keys"),
        ("lifecycle", "0007_role_permissions_handoff"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="StageChange",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("from_stage", models.CharField(blank=True, choices=STAGES, default="", max_length=16)),
                        ("to_stage", models.CharField(choices=STAGES, max_length=16)),
                        ("changed_at", models.DateTimeField()),
                        ("rule", models.CharField(blank=True, default="", max_length=120)),
                        ("rule_version", models.PositiveIntegerField(blank=True, null=True)),
                        ("reason", models.TextField(blank=True, default="")),
                        ("details", models.JSONField(blank=True, default=dict)),
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
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="stage_changes",
                                to="crm.person",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["changed_at", "id"],
                        "db_table": "lifecycle_stagechange",
                        "indexes": [
                            models.Index(fields=["person", "changed_at"], name="stagechange_person"),
                            models.Index(fields=["to_stage", "changed_at"], name="stagechange_to"),
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="stagechange", table=None),
        migrations.RunPython(relabel_content_type, restore_content_type),
    ]
