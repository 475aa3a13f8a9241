from django.contrib import admin

from tandem.enablement.models import Asset, ContentUse, Objection, Persona, Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("name", "summary")
    search_fields = ("name",)


class ObjectionInline(admin.TabularInline):
    model = Objection
    extra = 0


@admin.register(Persona)
class PersonaAdmin(admin.ModelAdmin):
    # Rules are checked by the service; edit them on the Personas page, where bad rules are refused.
    list_display = ("name", "priority", "is_active")
    readonly_fields = ("rules",)
    inlines = [ObjectionInline]


@admin.register(Asset)
class AssetAdmin(admin.ModelAdmin):
    # Files are checked and named by the service; the admin never touches the stored name.
    list_display = ("title", "kind", "persona", "stage", "owner", "expires_on")
    list_filter = ("kind", "stage")
    search_fields = ("title", "original_name")
    readonly_fields = ("file", "original_name", "content_type", "size_bytes")
    raw_id_fields = ("owner",)
    filter_horizontal = ("themes", "campaigns")


@admin.register(ContentUse)
class ContentUseAdmin(admin.ModelAdmin):
    list_display = ("used_at", "asset", "person", "how", "helped", "used_by")
    raw_id_fields = ("asset", "person", "deal", "activity", "used_by")
