"""Now that every activity has a known kind and outcome and every deal a pipeline stage, the database holds them to it."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("crm", "0005_fill_pipelines_kinds_outcomes"),
    ]

    operations = [
        migrations.AlterField(
            model_name='activity',
            name='outcome',
            field=models.CharField(blank=True, choices=[('connected', 'Connected'), ('no_answer', 'No answer'), ('left_voicemail', 'Left voicemail'), ('busy', 'Busy'), ('wrong_number', 'Wrong number'), ('sent', 'Sent'), ('replied', 'Replied'), ('bounced', 'Bounced'), ('scheduled', 'Scheduled'), ('held', 'Held'), ('no_show', 'No-show'), ('rescheduled', 'Rescheduled'), ('canceled', 'Canceled')], default='', max_length=20),
        ),
        migrations.AlterField(
            model_name='activity',
            name='kind',
            field=models.ForeignKey(db_column='kind', on_delete=django.db.models.deletion.PROTECT, related_name='activities', to='crm.activitytype', to_field='key'),
        ),
        migrations.AddConstraint(
            model_name='activity',
            constraint=models.CheckConstraint(condition=models.Q(('outcome__in', ['', 'connected', 'no_answer', 'left_voicemail', 'busy', 'wrong_number', 'sent', 'replied', 'bounced', 'scheduled', 'held', 'no_show', 'rescheduled', 'canceled'])), name='activity_outcome_known'),
        ),
        migrations.AddConstraint(
            model_name='activity',
            constraint=models.CheckConstraint(condition=models.Q(('direction__in', ['', 'outbound', 'inbound'])), name='activity_direction_known'),
        ),
        migrations.AlterField(
            model_name='deal',
            name='pipeline',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='deals', to='crm.pipeline'),
        ),
        migrations.AlterField(
            model_name='deal',
            name='pipeline_stage',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='deals', to='crm.pipelinestage'),
        ),
    ]
