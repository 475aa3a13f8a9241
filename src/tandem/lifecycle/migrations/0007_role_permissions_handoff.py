from django.db import migrations


def forwards(apps, schema_editor):
    # Definitions, routing, SLA policies and notifications arrived after the role groups were made: without
    # this, an admin who is not a superuser could not publish them.
    from tandem.users.roles import roles_sync

    roles_sync(apps_registry=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0004_team_calendar"),
        ("lifecycle", "0006_sla_policy_notifications"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
