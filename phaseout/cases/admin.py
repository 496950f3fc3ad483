"""Read-only in the admin: cases change state only through their actions, which keep the history."""

from typing import Any

from django.contrib import admin

from phaseout.cases.models import Case, CaseEvent, Escalation, ExitMeasure, Inspection


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False


@admin.register(Case)
class CaseAdmin(ReadOnlyAdmin):
    list_display = ["id", "enterprise", "territory", "industry", "dimension", "state", "deadline"]
    list_filter = ["state", "dimension", "territory", "industry"]
    search_fields = ["enterprise__name"]


admin.site.register(CaseEvent, ReadOnlyAdmin)
admin.site.register(ExitMeasure, ReadOnlyAdmin)
admin.site.register(Inspection, ReadOnlyAdmin)
admin.site.register(Escalation, ReadOnlyAdmin)
