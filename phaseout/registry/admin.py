from django.contrib import admin

from phaseout.registry.models import Enterprise, ImportBatch, Industry, Licence, ProductionLine


@admin.register(Industry)
class IndustryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "sort_order"]


@admin.register(Enterprise)
class EnterpriseAdmin(admin.ModelAdmin):
    list_display = ["uscc", "name", "territory", "industry", "address"]
    list_filter = ["territory", "industry"]
    search_fields = ["name", "uscc"]


@admin.register(ProductionLine)
class ProductionLineAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "enterprise",
        "equipment_type",
        "size_value",
        "capacity",
        "capacity_unit",
        "status",
    ]
    list_filter = ["equipment_type", "status"]
    raw_id_fields = ["enterprise"]


admin.site.register(Licence)


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = ["original_name", "uploaded_by", "uploaded_at", "status", "total_rows", "created_count"]

    def has_add_permission(self, request: object) -> bool:
        return False
