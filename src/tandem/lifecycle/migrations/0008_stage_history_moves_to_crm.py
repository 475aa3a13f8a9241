"""The stage history (StageChange) now belongs to crm (crm.0003 took over its table); drop it from this app's state."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("lifecycle", "0007_role_permissions_handoff"),
        ("crm", "0003_stage_history_moves_to_crm"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="StageChange")],
            database_operations=[],
        ),
    ]
