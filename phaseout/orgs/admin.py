"""The system administrator's reference data: territories and departments, each change audited.

People, users, groups and login records are not in the admin (see phaseout.orgs.adminsite): the
security administrator manages accounts and roles on the platform's own pages, with their checks.
"""

from django.contrib import admin
from django.contrib.auth.models import Group, User

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
    list_display = ["code", "name", "territory", "dimensions", "is_office"]
