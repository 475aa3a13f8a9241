# Import files are named by their storage name (tandem.core.uploads), no longer by an absolute local path.

from pathlib import PurePath

from django.db import migrations

FOLDER = "imports"


def _name(path):
    # Every stored upload and refused-rows file was written to MEDIA_ROOT/imports/: its storage name is the
    # folder and the file's own name, wherever MEDIA_ROOT was then.
    if not path or not PurePath(path).is_absolute():
        return path
    return f"{FOLDER}/{PurePath(path).name}"


def forwards(apps, schema_editor):
    ImportJob = apps.get_model("capture", "ImportJob")
    for job in ImportJob.objects.exclude(stored_path="", refused_path="").only("pk", "stored_path", "refused_path"):
        stored, refused = _name(job.stored_path), _name(job.refused_path)
        if (stored, refused) != (job.stored_path, job.refused_path):
            ImportJob.objects.filter(pk=job.pk).update(stored_path=stored, refused_path=refused)


class Migration(migrations.Migration):

    dependencies = [
        ("capture", "0003_unknown_utm"),
    ]

    operations = [
        migrations.RunPython(forwards, migrations.RunPython.noop),
    ]
