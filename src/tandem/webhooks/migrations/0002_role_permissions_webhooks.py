from django.db import migrations


def forwards(apps, schema_editor):
    # The admins' group gets "manage outbound webhooks" (admins manage every app of ours, users/roles.py).
    from tandem.users.roles import roles_sync

    roles_sync(apps_registry=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0006_user_must_change_password"),
        ("webhooks", "0001_endpoints_and_deliveries"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
