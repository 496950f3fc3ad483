from typing import Any

from django.contrib import admin

from phaseout.audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: no one adds, changes or deletes an audit entry here (the database refuses it too)."""

    list_display = ["seq", "at", "actor_name", "unit", "action", "object_type", "object_id", "outcome", "ip"]
    list_filter = ["outcome"]
    ordering = ["-seq"]
    show_full_result_count = False  # no COUNT(*) over the whole trail on every page
    actions = None

    def get_readonly_fields(self, request: Any, obj: Any = None) -> list[str]:
        return [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
