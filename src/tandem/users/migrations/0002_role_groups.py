from django.db import migrations


def forwards(apps, schema_editor):
    from tandem.users.roles import roles_sync

    roles_sync(apps_registry=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("crm", "0002_foreign_keys"),
        ("campaigns", "0002_foreign_keys"),
        ("lifecycle", "0002_foreign_keys"),
        ("feedback", "0002_foreign_keys"),
        ("core", "0002_foreign_keys"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
