from django.contrib import admin

from phaseout.orgs.models import Department, Person, Territory


@admin.register(Territory)
class TerritoryAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "territory", "dimensions", "is_office"]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["display_name", "user", "role", "department", "territory", "enterprise"]
    list_filter = ["role"]
    raw_id_fields = ["enterprise"]
