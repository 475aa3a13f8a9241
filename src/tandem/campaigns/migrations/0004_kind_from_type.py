from django.db import migrations

KINDS = {"campaign", "promotion", "event", "launch"}
SYNONYMS = {"promo": "promotion", "offer": "promotion", "webinar": "event", "conference": "event",
            "trade show": "event", "tradeshow": "event", "product launch": "launch", "release": "launch"}


def forwards(apps, schema_editor):
    # Old free-text types become one of the four kinds; a value that maps to none is kept in custom_fields.
    Campaign = apps.get_model("campaigns", "Campaign")
    for campaign in Campaign.objects.exclude(kind__in=KINDS).iterator():
        text = (campaign.kind or "").strip().lower()
        kind = text if text in KINDS else SYNONYMS.get(text, "campaign")
        if text and kind == "campaign" and text != "campaign":
            campaign.custom_fields = {**(campaign.custom_fields or {}), "type_before": campaign.kind}
        campaign.kind = kind
        campaign.save(update_fields=["kind", "custom_fields"])


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_kind_offer_talking_points"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
