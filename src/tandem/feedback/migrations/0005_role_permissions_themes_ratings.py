from django.db import migrations


def forwards(apps, schema_editor):
    # Themes and lead ratings arrived after the role groups were made: marketing manages themes, reps rate leads.
    from tandem.users.roles import roles_sync

    roles_sync(apps_registry=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("users", "0003_role_groups_capture"),
        ("feedback", "0004_curated_themes_and_question_activity"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
