"""The system administrator's reference data: territories and departments, each change audited; a
department's dimensions (its data scope) are shown, not changed.

People, users, groups and login records are not in the admin (see phaseout.orgs.adminsite): the
security administrator manages accounts and roles on the platform's own pages, with their checks.
"""

from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _

from phaseout.orgs.adminsite import AuditedAdmin
from phaseout.orgs.models import Department, Territory

# Registered by django.contrib.auth, which comes earlier in INSTALLED_APPS.
for model in (User, Group):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(Territory)
class TerritoryAdmin(AuditedAdmin):
    list_display = ["code", "name", "level", "parent"]


@admin.register(Department)
class DepartmentAdmin(AuditedAdmin):
    """A department's dimensions decide what its people see (data scope, orgs.scope): that belongs to the
    security administrator, not to the system administrator, so the admin shows them and does not change
    them — a posted list is ignored. They come with the reference data (phaseout.reference); no page
    changes them yet (docs/decisions/0004-known-gaps.md)."""

    fields = ["code", "name", "territory", "dimensions_enforced", "is_office", "doc_prefix"]
    readonly_fields = ["dimensions_enforced"]
    list_display = ["code", "name", "territory", "dimensions_enforced", "is_office"]

    @admin.display(description=_("dimensions enforced"))
    def dimensions_enforced(self, obj: Department) -> str:
        return obj.dimension_labels()
