"""The system administrator keeps the list of industries here, each change audited. Enterprises, lines,
licences and register imports are business records: they change only through the registry's actions,
on its pages, so they are not in the admin."""

from django.contrib import admin

from phaseout.orgs.adminsite import AuditedAdmin
from phaseout.registry.models import Industry


@admin.register(Industry)
class IndustryAdmin(AuditedAdmin):
    list_display = ["code", "name", "sort_order"]
