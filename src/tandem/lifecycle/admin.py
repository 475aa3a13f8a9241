from django.contrib import admin

from tandem.lifecycle.models import StageChange


@admin.register(StageChange)
class StageChangeAdmin(admin.ModelAdmin):
    list_display = (
        "changed_at",
        "person",
        "from_stage",
        "to_stage",
        "by_user",
        "rule",
        "rule_version",
        "reason",
    )
    list_filter = ("to_stage", "from_stage")
    raw_id_fields = ("person", "by_user")
    show_full_result_count = False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False  # rows come only from the lifecycle service

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
