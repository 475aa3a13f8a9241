from django.contrib import admin

from tandem.core.models import Event, Job, PendingTask


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


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "label", "status", "progress_done", "progress_total", "requested_by", "finished_at")
    list_filter = ("kind", "status")
    readonly_fields = [f.name for f in Job._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False  # jobs are started by the pages, the API and the CLI, which queue their work


@admin.register(PendingTask)
class PendingTaskAdmin(admin.ModelAdmin):
    # The outbox: work waiting for the queue to answer (rows stay only while the queue is down).
    list_display = ("created_at", "task", "attempts", "next_attempt_at", "last_error")
    readonly_fields = [f.name for f in PendingTask._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
