from django.contrib import admin

from tandem.feedback.models import Question


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    list_display = ("asked_at", "person", "text", "product", "heard_by")
    search_fields = ("text",)
    raw_id_fields = ("person", "heard_by")
