from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tandem.campaigns.models import Campaign, CampaignCost, Touchpoint


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "channel", "kind", "status", "started_on", "ended_on", "budget", "actual_cost")
    list_filter = ("channel", "status", "kind")
    search_fields = ("name", "external_id", "utm_campaign")
    # The total of the cost entries, kept by campaigns.services: entries change it, not this form.
    readonly_fields = ("actual_cost",)


@admin.register(CampaignCost)
class CampaignCostAdmin(admin.ModelAdmin):
    """Read only: entries are added and deleted on the campaign page, API or CLI, which keep the total and the events."""

    list_display = ("campaign", "spent_on", "spent_until", "amount", "note", "entered_by", "entered_at")
    list_select_related = ("campaign", "entered_by")
    raw_id_fields = ("campaign",)
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Touchpoint)
class TouchpointAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "person", "channel", "kind", "campaign")
    list_filter = ("channel", "kind")
    raw_id_fields = ("person", "campaign")
    show_full_result_count = False
