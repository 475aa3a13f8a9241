from django.db import migrations


def forwards(apps, schema_editor):
    # The capture models (forms, journal, imports) arrived after the groups were made: give roles their rights.
    from tandem.users.roles import roles_sync

    roles_sync(apps_registry=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0002_role_groups"),
        ("capture", "0001_forms_journal_imports"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
