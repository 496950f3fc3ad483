from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.utils.translation import gettext_lazy as _

from phaseout.orgs.models import Department, Role, Territory
from phaseout.registry.models import Enterprise

# The unit each role needs: its data scope follows from it.
UNIT_FOR_ROLE = {Role.DEPARTMENT: "department", Role.DISTRICT: "territory", Role.ENTERPRISE: "enterprise"}


class PersonForm(forms.Form):
    display_name = forms.CharField(label=_("Name"), max_length=60)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    department = forms.ModelChoiceField(
        label=_("Department"), queryset=Department.objects.all(), required=False
    )
    territory = forms.ModelChoiceField(label=_("Territory"), queryset=Territory.objects.all(), required=False)
    enterprise = forms.ModelChoiceField(
        label=_("Enterprise"),
        queryset=Enterprise.objects.all(),
        required=False,
        widget=forms.NumberInput,
        help_text=_("The enterprise's number in the registry."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        role = data.get("role")
        unit = UNIT_FOR_ROLE.get(Role(role)) if role else None
        if unit and not data.get(unit):
            self.add_error(unit, _("This role needs its unit: it sets what the person may see."))
        for other in ("department", "territory", "enterprise"):
            if other != unit and not (role == Role.OFFICE and other == "department"):
                data[other] = None  # a unit the role does not use would widen nothing, so it is not kept
        return data


class NewPersonForm(PersonForm):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Initial password"), widget=forms.PasswordInput)

    field_order = [
        "username",
        "password",
        "display_name",
        "role",
        "department",
        "territory",
        "enterprise",
        "active",
    ]

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username=username).exists():
            raise forms.ValidationError(_("This username is taken."))
        return username

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        password_validation.validate_password(password)
        return password


class PasswordResetForm(forms.Form):
    password = forms.CharField(label=_("New password"), widget=forms.PasswordInput)

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        password_validation.validate_password(password)
        return password
