"""The system administrator's reference data: territories and departments, each change audited.

People, users, groups and login records are not in the admin (see phaseout.orgs.adminsite): the
security administrator manages accounts and roles on the platform's own pages, with their checks.
"""

from django import forms
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.utils.translation import gettext_lazy as _

from phaseout.orgs.adminsite import AuditedAdmin
from phaseout.orgs.models import Department, Dimension, Territory

# Registered by django.contrib.auth, which comes earlier in INSTALLED_APPS.
for model in (User, Group):
    if admin.site.is_registered(model):
        admin.site.unregister(model)


@admin.register(Territory)
class TerritoryAdmin(AuditedAdmin):
    list_display = ["code", "name", "level", "parent"]


class DepartmentForm(forms.ModelForm):
    # Chosen from the five dimensions, not typed as JSON: a bad value is refused with a message.
    dimensions = forms.MultipleChoiceField(
        label=_("dimensions enforced"),
        choices=Dimension.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Department
        fields = ["code", "name", "territory", "dimensions", "is_office", "doc_prefix"]


@admin.register(Department)
class DepartmentAdmin(AuditedAdmin):
    form = DepartmentForm
    list_display = ["code", "name", "territory", "dimensions", "is_office"]
