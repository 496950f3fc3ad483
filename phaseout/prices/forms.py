from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from phaseout.prices.models import PriceRate
from phaseout.rules.dimensions import Dimension
from phaseout.rules.rulebook import library
from phaseout.widgets import DatePicker


class PriceRateForm(forms.ModelForm):
    class Meta:
        model = PriceRate
        fields = [
            "kind",
            "industry",
            "catalogue_class",
            "indicator",
            "above",
            "rate",
            "water_tier1",
            "water_tier2",
            "water_tier3",
            "effective_from",
            "effective_until",
            "source",
            "verification",
        ]
        widgets = {
            "effective_from": DatePicker(),
            "effective_until": DatePicker(),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lib = library()
        energy = sorted(
            {r.indicator for r in lib.rules if r.dimension is Dimension.ENERGY and r.indicator},
        )
        self.fields["indicator"] = forms.ChoiceField(
            label=_("indicator"),
            required=False,
            choices=[("", "—"), *((c, lib.vocabulary.measurements[c].name) for c in energy)],
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        rate = data.get("rate")
        if kind == PriceRate.Kind.WATER:
            tiers = [data.get(f"water_tier{i}") for i in (1, 2, 3)]
            if any(t is None or t <= 0 for t in tiers):
                raise forms.ValidationError(_("A water surcharge needs all three tiers, each above zero."))
        elif rate is None or rate <= 0:
            self.add_error("rate", _("An electricity surcharge needs a rate above zero."))
        if kind == PriceRate.Kind.TIERED and not (data.get("industry") and data.get("indicator")):
            raise forms.ValidationError(_("A tiered price needs the industry and the energy indicator."))
        if kind == PriceRate.Kind.TIERED and data.get("above") is None:
            self.add_error("above", _("A tiered price needs the energy use above which it applies."))
        if kind == PriceRate.Kind.DIFFERENTIAL and not data.get("catalogue_class"):
            self.add_error(
                "catalogue_class", _("A differential price is for the elimination or restricted class.")
            )
        if not (data.get("source") or "").strip():
            self.add_error("source", _("Please cite the document the rate comes from."))
        return data
