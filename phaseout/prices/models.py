from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.rules.prices import PriceKind, Rate
from phaseout.rules.rulebook import CatalogueClass, Verification


class PriceRate(models.Model):
    """A surcharge rate with the document it comes from. Confirmed national levels ship with the
    platform; rates the reference does not confirm are entered by the office, citing their source."""

    class Kind(models.TextChoices):
        DIFFERENTIAL = PriceKind.DIFFERENTIAL.value, _("Differential electricity price")
        TIERED = PriceKind.TIERED.value, _("Tiered electricity price")
        PUNITIVE = PriceKind.PUNITIVE.value, _("Punitive electricity price")
        WATER = PriceKind.WATER.value, _("Progressive water surcharge")

    class Class(models.TextChoices):
        NONE = "", _("(not by catalogue class)")
        ELIMINATED = CatalogueClass.ELIMINATED.value, _("Elimination class")
        RESTRICTED = CatalogueClass.RESTRICTED.value, _("Restricted class")

    class Status(models.TextChoices):
        OFFICIAL = Verification.OFFICIAL.value, _("Checked against the official text")
        SECONDARY = Verification.SECONDARY.value, _("Secondary source")
        UNCONFIRMED = Verification.UNCONFIRMED.value, _("Unconfirmed")

    kind = models.CharField(_("measure"), max_length=20, choices=Kind.choices)
    industry = models.ForeignKey(
        "registry.Industry", on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("industry")
    )
    catalogue_class = models.CharField(_("catalogue class"), max_length=12, choices=Class.choices, blank=True)
    indicator = models.CharField(_("indicator"), max_length=40, blank=True)
    above = models.DecimalField(
        _("applies above"),
        max_digits=14,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("Tiered: the energy use above which the rate applies; punitive: the exceedance in %."),
    )
    rate = models.DecimalField(_("rate (yuan/kWh)"), max_digits=8, decimal_places=4, default=Decimal(0))
    water_tier1 = models.DecimalField(
        _("surcharge up to 30% over quota (%)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    water_tier2 = models.DecimalField(
        _("surcharge 30–50% over quota (%)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    water_tier3 = models.DecimalField(
        _("surcharge over 50% over quota (%)"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    effective_from = models.DateField(_("effective from"))
    effective_until = models.DateField(_("effective until"), null=True, blank=True)
    source = models.CharField(_("source cited"), max_length=300)
    verification = models.CharField(_("verification"), max_length=12, choices=Status.choices)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    entered_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "industry_id", "catalogue_class", "above", "-effective_from"]
        verbose_name = _("price rate")
        verbose_name_plural = _("price rates")
        constraints = [
            models.CheckConstraint(
                name="rate_water_tiers_complete",
                condition=~models.Q(kind="water")
                | models.Q(water_tier1__isnull=False, water_tier2__isnull=False, water_tier3__isnull=False),
            ),
            models.CheckConstraint(
                name="rate_period_ordered",
                condition=models.Q(effective_until__isnull=True)
                | models.Q(effective_until__gte=models.F("effective_from")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.to_rate().describe()}"

    def to_rate(self) -> Rate:
        tiers = None
        if self.water_tier1 is not None and self.water_tier2 is not None and self.water_tier3 is not None:
            tiers = (self.water_tier1, self.water_tier2, self.water_tier3)
        return Rate(
            id=self.pk,
            kind=PriceKind(self.kind),
            rate=self.rate,
            effective_from=self.effective_from,
            effective_until=self.effective_until,
            source=self.source,
            verification=Verification(self.verification),
            industry=self.industry_id or "",
            catalogue_class=CatalogueClass(self.catalogue_class),
            indicator=self.indicator,
            above=self.above,
            water_tiers=tiers,
            entered_by_office=self.entered_by_id is not None,
        )
