from django.db import migrations


def forwards(apps, schema_editor):
    # Tasks, pipelines, activity kinds and deal contacts arrived after the role groups were made, and reps now
    # keep accounts: without this, an existing install's reps could not add a task.
    from tandem.users.roles import roles_sync

    roles_sync(apps_registry=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0004_team_calendar"),
        ("crm", "0006_activity_kind_outcome_and_deal_stage_required"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
