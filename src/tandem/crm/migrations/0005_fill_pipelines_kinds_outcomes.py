"""The built-in activity kinds and the default pipeline; existing deals, kinds and outcomes moved onto them."""

from django.db import migrations, models

from tandem.crm.defaults import BUILTIN_ACTIVITY_KINDS, DEFAULT_PIPELINE, DEFAULT_PIPELINE_STAGES

# Outcomes written as free text before they became a fixed list (the demo wrote "no answer").
OUTCOME_WORDS = {
    "connected": "connected", "no answer": "no_answer", "left voicemail": "left_voicemail",
    "voicemail": "left_voicemail", "busy": "busy", "wrong number": "wrong_number", "sent": "sent",
    "replied": "replied", "bounced": "bounced", "scheduled": "scheduled", "held": "held",
    "completed": "held", "no show": "no_show", "no-show": "no_show", "rescheduled": "rescheduled",
    "canceled": "canceled", "cancelled": "canceled",
}


def fill_pipelines_kinds_outcomes(apps, schema_editor):
    ActivityType = apps.get_model("crm", "ActivityType")
    Activity = apps.get_model("crm", "Activity")
    Pipeline = apps.get_model("crm", "Pipeline")
    PipelineStage = apps.get_model("crm", "PipelineStage")
    Deal = apps.get_model("crm", "Deal")
    DealStageChange = apps.get_model("crm", "DealStageChange")
    for key, label, touch, position in BUILTIN_ACTIVITY_KINDS:
        ActivityType.objects.create(key=key, label=label, counts_as_touch=touch, builtin=True, position=position)
    # Kinds an older install wrote that are not built in become admin kinds, so no activity is lost.
    known = {k for k, *_ in BUILTIN_ACTIVITY_KINDS}
    for i, key in enumerate(sorted(set(Activity.objects.values_list("kind", flat=True)) - known)):
        ActivityType.objects.create(key=key[:24], label=key.replace("_", " ").capitalize(), position=10 + i)
    for outcome in set(Activity.objects.exclude(outcome="").values_list("outcome", flat=True)):
        mapped = OUTCOME_WORDS.get(outcome.strip().lower().replace("_", " "))
        rows = Activity.objects.filter(outcome=outcome)
        if mapped is not None:
            rows.update(outcome=mapped)
        else:
            # An outcome outside the list is kept in the notes rather than dropped.
            for a in rows:
                a.notes = f"Outcome: {outcome}\n{a.notes}".strip()
                a.outcome = ""
                a.save(update_fields=["notes", "outcome"])
    pipeline = Pipeline.objects.create(name=DEFAULT_PIPELINE, is_default=True)
    stages = {
        name: PipelineStage.objects.create(pipeline=pipeline, name=name, position=i, probability=p, kind=kind)
        for i, (name, p, kind) in enumerate(DEFAULT_PIPELINE_STAGES)
    }
    first = {}
    for name, _, kind in DEFAULT_PIPELINE_STAGES:
        first.setdefault(kind, stages[name])
    by_kind = first
    for kind, stage in by_kind.items():
        Deal.objects.filter(stage=kind).update(pipeline=pipeline, pipeline_stage=stage)
    # The history we know: each deal entered "New" when created, and its closing stage when it closed.
    history = []
    for deal_id, kind, created_at, closed_at in Deal.objects.values_list("id", "stage", "created_at", "closed_at"):
        history.append(DealStageChange(deal_id=deal_id, to_stage=first["open"], changed_at=created_at, reason="migrated"))
        if kind != "open" and closed_at is not None:
            history.append(
                DealStageChange(
                    deal_id=deal_id, from_stage=first["open"], to_stage=by_kind[kind], changed_at=closed_at, reason="migrated"
                )
            )
        if len(history) >= 2000:
            DealStageChange.objects.bulk_create(history)
            history = []
    DealStageChange.objects.bulk_create(history)
    for kind in ("won", "lost"):
        Deal.objects.filter(stage=kind, closed_at__isnull=False).update(stage_entered_at=models.F("closed_at"))
    Deal.objects.filter(stage_entered_at__isnull=True).update(stage_entered_at=models.F("created_at"))


class Migration(migrations.Migration):

    dependencies = [
        ("crm", "0004_pipelines_activity_kinds_tasks"),
    ]

    operations = [
        migrations.RunPython(fill_pipelines_kinds_outcomes, migrations.RunPython.noop),
    ]
