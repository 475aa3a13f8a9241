from django.contrib import admin

from tandem.core.models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "kind", "subject_type", "subject_id", "actor", "rule", "rule_version")
    list_filter = ("kind", "subject_type")
    search_fields = ("kind", "reason")
    date_hierarchy = "occurred_at"

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False  # the event log is append-only

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
