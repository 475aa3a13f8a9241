from django.contrib import admin

from tandem.feedback.models import LeadRating, Question, Theme


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("asked_at", "person", "text", "product", "theme", "heard_by")
    search_fields = ("text",)
    raw_id_fields = ("person", "heard_by", "activity", "theme")


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    # Themes change through the Themes page (rename, merge, split keep the stored model in step).
    list_display = ("id", "label", "question_count", "renamed", "curated", "retired_at")
    readonly_fields = [f.name for f in Theme._meta.fields]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(LeadRating)
class LeadRatingAdmin(admin.ModelAdmin):
    list_display = ("rated_at", "person", "rating", "reasons", "rated_by")
    raw_id_fields = ("person", "rated_by")
