from django.contrib import admin

from tandem.audiences.models import Audience, AudienceVersion


@admin.register(Audience)
class AudienceAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "synced_at", "created_at")
    # Criteria change only through the service (a new version with who and why): read-only here.
    readonly_fields = ("spec", "version", "created_by", "created_at", "synced_at")


@admin.register(AudienceVersion)
class AudienceVersionAdmin(admin.ModelAdmin):
    list_display = ("audience", "version", "created_by", "created_at")
    readonly_fields = ("audience", "version", "spec", "reason", "created_by", "created_at")
