from __future__ import annotations

from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from phaseout.registry.models import EquipmentType, Industry
from phaseout.rules.engine import LineFacts, Quantity
from phaseout.rules.equipment import SIZE_UNITS
from phaseout.rules.rulebook import library
from phaseout.widgets import DatePicker


class WhatIfForm(forms.Form):
    """A line described by hand: what would the standards say about it on a day?"""

    on = forms.DateField(label=_("Date"), widget=DatePicker())
    industry = forms.ChoiceField(label=_("Industry"))
    equipment_type = forms.ChoiceField(label=_("Equipment type"), choices=EquipmentType.choices)
    size = forms.DecimalField(
        label=_("Size"),
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=4,
        help_text=_("In the size unit of the equipment type (m³, t, t/d, m², m)."),
    )
    process = forms.ChoiceField(label=_("Process"), required=False)
    product = forms.ChoiceField(label=_("Product"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        vocabulary = library().vocabulary
        self.fields["on"].initial = timezone.localdate()
        self.fields["industry"].choices = [(i.code, i.name) for i in Industry.objects.all()]  # type: ignore[attr-defined]
        self.fields["process"].choices = [("", "—"), *vocabulary.processes.items()]  # type: ignore[attr-defined]
        self.fields["product"].choices = [("", "—"), *vocabulary.products.items()]  # type: ignore[attr-defined]
        for code, indicator in vocabulary.attributes.items():
            label = f"{indicator.name}（{indicator.unit}）" if indicator.unit else indicator.name
            if indicator.categorical:
                self.fields[f"a_{code}"] = forms.ChoiceField(
                    label=label, required=False, choices=[("", "—"), *indicator.categories.items()]
                )
            else:
                self.fields[f"a_{code}"] = forms.DecimalField(
                    label=label, required=False, max_digits=14, decimal_places=4
                )
        for code, indicator in vocabulary.measurements.items():
            self.fields[f"m_{code}"] = forms.DecimalField(
                label=f"{indicator.name}（{indicator.unit}）", required=False, max_digits=14, decimal_places=4
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("equipment_type")
        if data.get("size") is not None and kind not in SIZE_UNITS:
            self.add_error("size", _("This equipment type has no size parameter."))
        return data

    @property
    def attribute_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("a_")]

    @property
    def measurement_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith("m_")]

    def facts(self) -> LineFacts:
        data = self.cleaned_data
        vocabulary = library().vocabulary
        kind = data["equipment_type"]
        return LineFacts(
            industry=data["industry"],
            equipment_type=kind,
            size=data.get("size"),
            size_unit=SIZE_UNITS.get(kind, "") if data.get("size") is not None else "",
            process=data.get("process") or "",
            product=data.get("product") or "",
            attributes={
                code: data[f"a_{code}"]
                for code in vocabulary.attributes
                if data.get(f"a_{code}") not in (None, "")
            },
            measurements={
                code: Quantity(data[f"m_{code}"], indicator.unit)
                for code, indicator in vocabulary.measurements.items()
                if data.get(f"m_{code}") is not None
            },
        )


class EvaluationForm(forms.Form):
    on = forms.DateField(label=_("Evaluation date"), widget=DatePicker())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["on"].initial = timezone.localdate()

    def clean_on(self) -> Any:
        on = self.cleaned_data["on"]
        if on > timezone.localdate():
            raise forms.ValidationError(_("The evaluation date cannot be in the future."))
        return on
