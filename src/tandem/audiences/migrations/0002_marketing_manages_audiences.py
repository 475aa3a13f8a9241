from django.db import migrations


def forwards(apps, schema_editor):
    # Audiences arrived after the role groups were made: marketing (and admins) create and change them.
    from tandem.users.roles import roles_sync

    roles_sync(apps_registry=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0006_user_must_change_password"),
        ("audiences", "0001_audiences_versions_members"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
