from django.contrib import admin

from tandem.crm.models import Account, Activity, Deal, ExternalId, LostReason, Person, StageChange


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    list_display = ("name", "domain", "industry", "size_band", "country", "owner")
    list_filter = ("industry", "size_band")
    search_fields = ("name", "domain")
    raw_id_fields = ("owner",)


class ExternalIdInline(admin.TabularInline):
    model = ExternalId
    extra = 0


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = (
        "email",
        "first_name",
        "last_name",
        "account",
        "lifecycle_stage",
        "lead_status",
        "owner",
        "original_channel",
        "created_at",
    )
    list_filter = ("lifecycle_stage", "lead_status", "original_channel")
    search_fields = ("email_normalized", "name_key")
    raw_id_fields = ("account", "owner", "original_campaign", "latest_campaign")
    # The stage moves only through the stage service (crm.services), so the admin shows it but cannot change it.
    readonly_fields = ("lifecycle_stage", "email_normalized", "name_key")
    inlines = [ExternalIdInline]
    show_full_result_count = False


@admin.register(Deal)
class DealAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "person",
        "amount",
        "currency",
        "stage",
        "created_at",
        "closed_at",
        "lost_reason",
    )
    list_filter = ("stage", "lost_reason")
    raw_id_fields = ("person", "account", "owner")
    show_full_result_count = False


@admin.register(LostReason)
class LostReasonAdmin(admin.ModelAdmin):
    list_display = ("name", "is_active")


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "kind", "person", "user", "outcome")
    list_filter = ("kind",)
    raw_id_fields = ("person", "deal", "user")
    show_full_result_count = False


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
        return False  # rows come only from crm's stage service

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
