from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from phaseout.orgs.models import Territory
from phaseout.registry.models import Enterprise, ProductionLine
from phaseout.signals.models import (
    ACCOUNT_NUMBER,
    ElectricityAccount,
    FurnaceKind,
    FurnaceState,
    FurnaceStatus,
    FurnaceUse,
    SignalKind,
    SignalStatus,
)
from phaseout.web.forms import confirmation


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise forms.ValidationError(_("This value contains control characters."))
    return value.strip()


class PowerUploadForm(forms.Form):
    file = forms.FileField(label=_("Power-use data (.xlsx or .csv)"))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > settings.POWER_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is too large; the limit is %(limit)s.")
                % {"limit": filesizeformat(settings.POWER_IMPORT_MAX_BYTES)}
            )
        if not (upload.name or "").lower().endswith((".xlsx", ".csv")):
            raise forms.ValidationError(_("Please upload an .xlsx workbook or a .csv file."))
        return upload


class EnterpriseLineForm(forms.Form):
    """An enterprise by its USCC (of the territories given) and, optionally, one of its lines by name."""

    uscc = forms.CharField(label=_("USCC of the enterprise"), max_length=18)
    line_name = forms.CharField(label=_("Production line (name, optional)"), max_length=80, required=False)

    def __init__(self, *args: Any, territory_codes: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.territory_codes = territory_codes

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        uscc = _no_nul((data.get("uscc") or "").upper())
        if not uscc:
            return data
        enterprise = Enterprise.objects.filter(uscc=uscc, territory__in=self.territory_codes).first()
        if enterprise is None:
            raise forms.ValidationError(_("No enterprise of your territory has this USCC."))
        data["enterprise"] = enterprise
        data["line"] = None
        name = _no_nul(data.get("line_name") or "")
        if name:
            lines = list(ProductionLine.objects.filter(enterprise=enterprise, name=name)[:2])
            if not lines:
                raise forms.ValidationError(_("The enterprise has no line of this name."))
            if len(lines) > 1:
                raise forms.ValidationError(_("The enterprise has several lines of this name."))
            data["line"] = lines[0]
        return data


class AccountForm(EnterpriseLineForm):
    number = forms.CharField(
        label=_("Electricity account (户号)"), max_length=20, validators=[ACCOUNT_NUMBER]
    )

    field_order = ["number", "uscc", "line_name"]


class FurnaceForm(EnterpriseLineForm):
    name = forms.CharField(label=_("Furnace name or number"), max_length=60)
    kind = forms.ChoiceField(label=_("Furnace type"), choices=FurnaceKind.choices)
    capacity_t = forms.DecimalField(
        label=_("Capacity (t)"),
        max_digits=8,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    transformer_kva = forms.IntegerField(
        label=_("Transformer rating (kVA)"), validators=[MinValueValidator(1), MaxValueValidator(1_000_000)]
    )
    use = forms.ChoiceField(label=_("Use"), choices=FurnaceUse.choices)
    status = forms.ChoiceField(label=_("Status"), choices=FurnaceStatus.choices)
    account_number = forms.CharField(
        label=_("Electricity account (户号, optional)"), max_length=20, required=False
    )

    field_order = ["uscc", "line_name", "name", "kind", "capacity_t", "transformer_kva", "use", "status"]

    def clean_name(self) -> str:
        return _no_nul(self.cleaned_data["name"])

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        number = _no_nul(data.get("account_number") or "")
        data["account"] = None
        if number and "enterprise" in data:
            account = ElectricityAccount.objects.filter(number=number, enterprise=data["enterprise"]).first()
            if account is None:
                raise forms.ValidationError(_("This electricity account is not matched to the enterprise."))
            data["account"] = account
        return data


class VerifyForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            ("verify", _("Verified: the entry matches the furnace")),
            ("return", _("Return for correction")),
        ],
    )
    note = forms.CharField(
        label=_("Note"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    confirm = confirmation(_("I confirm this verification on the record, in the name of my department."))

    def clean_note(self) -> str:
        return _no_nul(self.cleaned_data["note"])


class SignalDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label=_("Decision"),
        choices=[
            ("confirm", _("Confirm: ask for a re-inspection (回头看)")),
            ("dismiss", _("Dismiss, with the reason")),
        ],
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    confirm = confirmation(
        _("I confirm this decision on the record: it cannot be undone; district and department are told.")
    )

    def clean_reason(self) -> str:
        return _no_nul(self.cleaned_data["reason"])


class FurnaceFilterForm(forms.Form):
    q = forms.CharField(label=_("Enterprise or furnace"), max_length=60, required=False)
    territory = forms.ModelChoiceField(
        label=_("Territory"), queryset=Territory.objects.none(), required=False
    )
    use = forms.ChoiceField(label=_("Use"), choices=[("", "—"), *FurnaceUse.choices], required=False)
    within_scope = forms.ChoiceField(
        label=_("Permitted scope"),
        choices=[
            ("", "—"),
            ("yes", _("Within the permitted scope")),
            ("no", _("Outside the permitted scope")),
        ],
        required=False,
    )
    state = forms.ChoiceField(
        label=_("Register state"), choices=[("", "—"), *FurnaceState.choices], required=False
    )

    def __init__(self, *args: Any, territories: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["territory"].queryset = territories  # type: ignore[attr-defined]


class SignalFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=[("", "—"), *SignalStatus.choices], required=False)
    kind = forms.ChoiceField(label=_("Signal"), choices=[("", "—"), *SignalKind.choices], required=False)
