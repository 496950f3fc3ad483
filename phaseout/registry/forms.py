from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from phaseout.orgs.models import Territory
from phaseout.registry import importer
from phaseout.registry.models import (
    SIZE_UNIT_FOR_TYPE,
    Enterprise,
    Industry,
    Licence,
    Measurement,
    ProductionLine,
)
from phaseout.registry.validators import normalize_uscc
from phaseout.rules.rulebook import library
from phaseout.web import zipguard
from phaseout.widgets import DatePicker


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        vocabulary = library().vocabulary
        current = self.instance.process if self.instance else ""
        processes = [("", "—"), *vocabulary.processes.items()]
        if current and current not in vocabulary.processes:
            processes.append((current, current))  # a free-text process from before stays visible
        self.fields["process"] = forms.ChoiceField(
            label=_("Process"),
            required=False,
            choices=processes,
            help_text=_("Rules with exemptions (foundry iron, ferroalloy converters…) read the process."),
        )
        stored = (self.instance.attributes if self.instance else None) or {}
        self.fields["product"] = forms.ChoiceField(
            label=_("Product"), required=False, choices=[("", "—"), *vocabulary.products.items()]
        )
        self.fields["product"].initial = stored.get("product", "")
        for code, attribute in vocabulary.attributes.items():
            label = f"{attribute.name}（{attribute.unit}）" if attribute.unit else attribute.name
            field: forms.Field
            if attribute.categorical:
                field = forms.ChoiceField(
                    label=label, required=False, choices=[("", "—"), *attribute.categories.items()]
                )
            else:
                field = forms.DecimalField(label=label, required=False, max_digits=14, decimal_places=4)
            field.initial = stored.get(code)
            self.fields[f"a_{code}"] = field

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        attributes: dict[str, Any] = {}
        if data.get("product"):
            attributes["product"] = data["product"]
        for code in library().vocabulary.attributes:
            value = data.get(f"a_{code}")
            if isinstance(value, Decimal):
                # Numbers are kept as their decimal text, so 60.1 stays 60.1.
                attributes[code] = f"{value.normalize():f}"
            elif value:
                attributes[code] = value
        self.instance.attributes = attributes
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
        if settings.REGISTER_PREVIEW_IN_BACKGROUND:
            # Only the cheap checks here (unpacked size, compression, rows counted as a stream); the rows
            # are parsed and checked by a task, off the request.
            self.register = None
            try:
                facts = zipguard.inspect(upload, workbook=True, max_rows=settings.REGISTER_IMPORT_MAX_ROWS)
            except zipguard.ZipRefused as exc:
                raise forms.ValidationError(str(exc)) from None
            if facts is None:
                raise forms.ValidationError(_("The file cannot be read as an .xlsx workbook."))
            if facts.rows is not None and facts.rows <= 1:
                raise forms.ValidationError(_("The register has no rows."))
            return upload
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
        widgets = {"valid_until": DatePicker()}


class MeasurementForm(forms.Form):
    """A measured value for a line; the unit is the indicator's own, so it cannot be mistaken."""

    indicator = forms.ChoiceField(label=_("Indicator"))
    value = forms.DecimalField(label=_("Value"), max_digits=14, decimal_places=4)
    measured_on = forms.DateField(label=_("Measured on"), widget=DatePicker())
    source = forms.ChoiceField(label=_("Source"), choices=Measurement.Source.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=200)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["indicator"].choices = [  # type: ignore[attr-defined]
            (code, f"{indicator.name}（{indicator.unit}）")
            for code, indicator in library().vocabulary.measurements.items()
        ]
