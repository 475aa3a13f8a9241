from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('users', '0005_team_rep_access'),
    ]

    operations = [
        migrations.AddField(
            model_name='user',
            name='must_change_password',
            field=models.BooleanField(default=False),
        ),
    ]
