from django.db import migrations
from django.utils import timezone


def forwards(apps, schema_editor):
    # Before cost entries, a campaign had one number, `actual_cost`, which unit economics spread evenly over
    # the days the campaign ran (to today while it had no end). Each non-zero cost becomes one entry spread
    # over those same days, so every report shows the same spend per period after the upgrade as before it.
    Campaign = apps.get_model("campaigns", "Campaign")
    CampaignCost = apps.get_model("campaigns", "CampaignCost")
    now = timezone.now()
    today = timezone.localdate(now)
    entries = []
    for campaign in Campaign.objects.filter(actual_cost__gt=0).order_by("pk").iterator():
        first = campaign.started_on or campaign.ended_on or timezone.localdate(campaign.created_at)
        last = campaign.ended_on or max(first, today)
        entries.append(
            CampaignCost(
                campaign_id=campaign.pk,
                spent_on=first,
                spent_until=last if last > first else None,
                amount=campaign.actual_cost,
                note="cost before entries existed, spread over the campaign's days",
                entered_at=now,
            )
        )
        if len(entries) >= 1000:
            CampaignCost.objects.bulk_create(entries)
            entries = []
    CampaignCost.objects.bulk_create(entries)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0005_campaign_cost_entries"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
