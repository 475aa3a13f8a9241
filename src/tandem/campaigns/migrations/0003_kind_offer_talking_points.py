from django.db import migrations, models


class Migration(migrations.Migration):
    # The free-text `type` column was never filled by Tandem itself; it becomes the calendar's `kind`.
    dependencies = [
        ("campaigns", "0002_foreign_keys"),
    ]

    operations = [
        migrations.RenameField(model_name="campaign", old_name="type", new_name="kind"),
        migrations.AlterField(
            model_name="campaign",
            name="kind",
            field=models.CharField(
                choices=[("campaign", "Campaign"), ("promotion", "Promotion"), ("event", "Event"), ("launch", "Launch")],
                db_index=True,
                default="campaign",
                max_length=60,
            ),
        ),
        migrations.AddField(
            model_name="campaign", name="offer", field=models.CharField(blank=True, default="", max_length=200)
        ),
        migrations.AddField(model_name="campaign", name="offer_ends_on", field=models.DateField(blank=True, null=True)),
        migrations.AddField(
            model_name="campaign", name="talking_points", field=models.TextField(blank=True, default="")
        ),
    ]
