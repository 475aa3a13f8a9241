from django.contrib import admin

from tandem.enablement.requests.models import CollateralRequest


@admin.register(CollateralRequest)
class CollateralRequestAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "status", "due_on", "requested_by", "assignee", "quantity", "created_at")
    list_filter = ("status", "kind")
    search_fields = ("purpose",)
    raw_id_fields = ("requested_by", "assignee", "deal", "account", "suggestion_handled_by", "suggestion_asset")
