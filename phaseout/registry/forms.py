from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from phaseout.orgs.models import Territory
from phaseout.registry import importer
from phaseout.registry.models import SIZE_UNIT_FOR_TYPE, Enterprise, Industry, Licence, ProductionLine
from phaseout.registry.validators import normalize_uscc


class EnterpriseForm(forms.ModelForm):
    class Meta:
        model = Enterprise
        fields = ["uscc", "name", "territory", "industry", "address", "contact_name", "contact_phone"]

    def __init__(self, *args: Any, territories: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["territory"]).queryset = (
            territories if territories is not None else Territory.objects.all()
        )
        self.fields["uscc"].help_text = _("18 characters, GB 32100-2015; the check character is verified.")

    def clean_uscc(self) -> str:
        return normalize_uscc(self.cleaned_data["uscc"])


class LineForm(forms.ModelForm):
    class Meta:
        model = ProductionLine
        fields = [
            "name",
            "equipment_type",
            "size_value",
            "size_unit",
            "capacity",
            "capacity_unit",
            "process",
            "commissioning_year",
            "status",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("equipment_type")
        expected = SIZE_UNIT_FOR_TYPE.get(kind or "")
        if data.get("size_value") is not None:
            if not data.get("size_unit"):
                self.add_error("size_unit", _("A size needs its unit."))
            elif expected and data.get("size_unit") != expected:
                self.add_error(
                    "size_unit",
                    _("The size of this equipment type is measured in %(unit)s.") % {"unit": expected},
                )
        elif expected:
            self.add_error("size_value", _("Rules depend on the size of this equipment; please enter it."))
        if data.get("status") == "exited" and not (self.instance and self.instance.exited_on):
            self.add_error("status", _("A line exits through its case, not by editing it."))
        return data


class EnterpriseFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or USCC"), required=False)
    territory = forms.ModelChoiceField(label=_("Territory"), queryset=Territory.objects.all(), required=False)
    industry = forms.ModelChoiceField(label=_("Industry"), queryset=Industry.objects.all(), required=False)


class RegisterUploadForm(forms.Form):
    file = forms.FileField(label=_("Enterprise register (.xlsx)"))

    def __init__(self, *args: Any, territories_allowed: set[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.territories_allowed = territories_allowed

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > settings.REGISTER_IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is too large; the limit is %(limit)s.")
                % {"limit": filesizeformat(settings.REGISTER_IMPORT_MAX_BYTES)}
            )
        if not (upload.name or "").lower().endswith(".xlsx"):
            raise forms.ValidationError(_("Please upload an .xlsx workbook."))
        try:
            self.register = importer.read_register(upload, territories_allowed=self.territories_allowed)
        except importer.RegisterFileError as exc:
            raise forms.ValidationError(str(exc)) from None
        if not self.register.total:
            raise forms.ValidationError(_("The register has no rows."))
        upload.seek(0)
        return upload


class LicenceForm(forms.ModelForm):
    class Meta:
        model = Licence
        fields = ["kind", "number", "valid_until", "status"]
        widgets = {"valid_until": forms.DateInput(format="%Y-%m-%d", attrs={"type": "date"})}
