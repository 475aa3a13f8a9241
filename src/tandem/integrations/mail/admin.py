from django.contrib import admin

from tandem.integrations.mail.models import MailSend, MailSubscription, TrackedLink


@admin.register(MailSubscription)
class MailSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "subscribed", "changed_at")
    list_filter = ("kind", "subscribed")


@admin.register(MailSend)
class MailSendAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "period", "status", "to_address", "sent_at", "attempts")
    list_filter = ("kind", "status")
    readonly_fields = ("user", "kind", "period", "created_at", "sent_at")


@admin.register(TrackedLink)
class TrackedLinkAdmin(admin.ModelAdmin):
    list_display = ("use", "status", "clicks", "emailed_at", "first_clicked_at")
    list_filter = ("status",)
    readonly_fields = ("use",)
