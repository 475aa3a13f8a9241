from django.contrib import admin

from tandem.campaigns.models import Campaign, Touchpoint


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "kind", "status", "started_on", "ended_on", "budget", "actual_cost")
    list_filter = ("channel", "status", "kind")
    search_fields = ("name", "external_id", "utm_campaign")


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "person", "channel", "kind", "campaign")
    list_filter = ("channel", "kind")
    raw_id_fields = ("person", "campaign")
    show_full_result_count = False
