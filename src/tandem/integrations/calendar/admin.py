from django.contrib import admin

from tandem.integrations.calendar.models import CalendarFeed


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ("user", "prefix", "created_at", "revoked_at", "last_fetched_at")
    # Only the token's hash is kept; it is not shown (nothing to copy from here).
    exclude = ("token_hash",)
    readonly_fields = ("user", "prefix", "created_at", "last_fetched_at")
