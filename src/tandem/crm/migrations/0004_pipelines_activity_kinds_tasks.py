"""Pipelines with stages, activity kinds as rows, richer activities, deal contacts and stage history, tasks.

Three migrations, so each runs in its own transaction on PostgreSQL: the tables (this one), the data that
fills them (0005), then the constraints that need the data (0006). PostgreSQL refuses to ALTER a table with
pending deferred foreign-key checks from rows written in the same transaction.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models



class Migration(migrations.Migration):

    dependencies = [
        ('crm', '0003_stage_history_moves_to_crm'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='ActivityType',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.SlugField(max_length=24, unique=True)),
                ('label', models.CharField(max_length=60)),
                ('counts_as_touch', models.BooleanField(default=True)),
                ('builtin', models.BooleanField(default=False)),
                ('is_active', models.BooleanField(default=True)),
                ('position', models.PositiveSmallIntegerField(default=0)),
            ],
            options={
                'ordering': ['position', 'key'],
            },
        ),
        migrations.CreateModel(
            name='DealContact',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('role', models.CharField(choices=[('decision_maker', 'Decision maker'), ('economic_buyer', 'Economic buyer'), ('champion', 'Champion'), ('influencer', 'Influencer'), ('technical_buyer', 'Technical buyer'), ('user', 'User'), ('blocker', 'Blocker'), ('other', 'Other')], default='other', max_length=20)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.CreateModel(
            name='DealStageChange',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('changed_at', models.DateTimeField()),
                ('reason', models.TextField(blank=True, default='')),
                ('recorded_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['changed_at', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Pipeline',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=120, unique=True)),
                ('is_default', models.BooleanField(default=False)),
                ('is_active', models.BooleanField(default=True)),
                ('position', models.PositiveSmallIntegerField(default=0)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
            ],
            options={
                'ordering': ['position', 'name'],
            },
        ),
        migrations.CreateModel(
            name='PipelineStage',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=80)),
                ('position', models.PositiveSmallIntegerField(default=0)),
                ('probability', models.PositiveSmallIntegerField(default=0)),
                ('kind', models.CharField(choices=[('open', 'Open'), ('won', 'Won'), ('lost', 'Lost')], default='open', max_length=8)),
                ('is_active', models.BooleanField(default=True)),
            ],
            options={
                'ordering': ['pipeline', 'position', 'id'],
            },
        ),
        migrations.CreateModel(
            name='Task',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(db_index=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('title', models.CharField(max_length=200)),
                ('notes', models.TextField(blank=True, default='')),
                ('due_at', models.DateTimeField()),
                ('priority', models.CharField(choices=[('low', 'Low'), ('normal', 'Normal'), ('high', 'High')], default='normal', max_length=8)),
                ('source', models.CharField(blank=True, default='', max_length=40)),
                ('done_at', models.DateTimeField(blank=True, null=True)),
                ('overdue_notified_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['due_at', 'id'],
            },
        ),
        migrations.AddField(
            model_name='activity',
            name='account',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='activities', to='crm.account'),
        ),
        migrations.AddField(
            model_name='activity',
            name='direction',
            field=models.CharField(blank=True, choices=[('outbound', 'Outbound'), ('inbound', 'Inbound')], default='', max_length=8),
        ),
        migrations.AddField(
            model_name='activity',
            name='external_id',
            field=models.CharField(blank=True, max_length=120, null=True),
        ),
        migrations.AddField(
            model_name='activity',
            name='subject',
            field=models.CharField(blank=True, default='', max_length=200),
        ),
        migrations.AddField(
            model_name='deal',
            name='expected_close_on',
            field=models.DateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='deal',
            name='stage_entered_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(fields=['occurred_at', 'id'], name='activity_recent'),
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(fields=['deal', 'occurred_at'], name='activity_deal'),
        ),
        migrations.AddIndex(
            model_name='activity',
            index=models.Index(fields=['account', 'occurred_at'], name='activity_account'),
        ),
        migrations.AddConstraint(
            model_name='activity',
            constraint=models.UniqueConstraint(condition=models.Q(('external_id__isnull', False)), fields=('external_id',), name='activity_external_id_unique'),
        ),
        migrations.AddField(
            model_name='dealcontact',
            name='deal',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='contacts', to='crm.deal'),
        ),
        migrations.AddField(
            model_name='dealcontact',
            name='person',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='deal_roles', to='crm.person'),
        ),
        migrations.AddField(
            model_name='dealstagechange',
            name='by_user',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='dealstagechange',
            name='deal',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='stage_changes', to='crm.deal'),
        ),
        migrations.AddConstraint(
            model_name='pipeline',
            constraint=models.UniqueConstraint(condition=models.Q(('is_default', True)), fields=('is_default',), name='pipeline_one_default'),
        ),
        migrations.AddField(
            model_name='deal',
            name='pipeline',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='deals', to='crm.pipeline'),
        ),
        migrations.AddField(
            model_name='pipelinestage',
            name='pipeline',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='stages', to='crm.pipeline'),
        ),
        migrations.AddField(
            model_name='dealstagechange',
            name='from_stage',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='crm.pipelinestage'),
        ),
        migrations.AddField(
            model_name='dealstagechange',
            name='to_stage',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='+', to='crm.pipelinestage'),
        ),
        migrations.AddField(
            model_name='deal',
            name='pipeline_stage',
            field=models.ForeignKey(null=True, on_delete=django.db.models.deletion.PROTECT, related_name='deals', to='crm.pipelinestage'),
        ),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['pipeline', 'pipeline_stage', 'id'], name='deal_board'),
        ),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['stage', 'expected_close_on'], name='deal_forecast'),
        ),
        migrations.AddIndex(
            model_name='deal',
            index=models.Index(fields=['account', 'created_at'], name='deal_account'),
        ),
        migrations.AddField(
            model_name='task',
            name='account',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='tasks', to='crm.account'),
        ),
        migrations.AddField(
            model_name='task',
            name='activity',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='tasks', to='crm.activity'),
        ),
        migrations.AddField(
            model_name='task',
            name='activity_kind',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='crm.activitytype', to_field='key'),
        ),
        migrations.AddField(
            model_name='task',
            name='created_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='task',
            name='deal',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='tasks', to='crm.deal'),
        ),
        migrations.AddField(
            model_name='task',
            name='done_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='task',
            name='owner',
            field=models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='tasks', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='task',
            name='person',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='tasks', to='crm.person'),
        ),
        migrations.AddConstraint(
            model_name='dealcontact',
            constraint=models.UniqueConstraint(fields=('deal', 'person'), name='deal_contact_once'),
        ),
        migrations.AddConstraint(
            model_name='pipelinestage',
            constraint=models.UniqueConstraint(fields=('pipeline', 'name'), name='pipeline_stage_name_unique'),
        ),
        migrations.AddConstraint(
            model_name='pipelinestage',
            constraint=models.CheckConstraint(condition=models.Q(('probability__lte', 100)), name='pipeline_stage_probability_percent'),
        ),
        migrations.AddConstraint(
            model_name='pipelinestage',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'won'), _negated=True), ('probability', 100), _connector='OR'), name='pipeline_stage_won_is_certain'),
        ),
        migrations.AddConstraint(
            model_name='pipelinestage',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'lost'), _negated=True), ('probability', 0), _connector='OR'), name='pipeline_stage_lost_is_zero'),
        ),
        migrations.AddIndex(
            model_name='dealstagechange',
            index=models.Index(fields=['deal', 'changed_at'], name='dealstagechange_deal'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['owner', 'done_at', 'due_at', 'id'], name='task_owner_open'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['done_at', 'due_at'], name='task_overdue'),
        ),
        migrations.AddIndex(
            model_name='task',
            index=models.Index(fields=['person', 'due_at'], name='task_person'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('title', ''), _negated=True), name='task_has_title'),
        ),
        migrations.AddConstraint(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('done_at__isnull', False), ('done_by__isnull', True), _connector='OR'), name='task_done_by_only_when_done'),
        ),
    ]
