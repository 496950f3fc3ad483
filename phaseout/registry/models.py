from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.choices import QuickDisplay
from phaseout.crypto.fields import EncryptedTextField
from phaseout.crypto.storage import SealedFileStorage
from phaseout.registry.validators import validate_uscc
from phaseout.rules.equipment import SIZE_UNITS


class Industry(models.Model):
    """An industry the campaign watches; the list is data (steel, cement and flat glass first)."""

    code = models.SlugField(_("code"), max_length=30, primary_key=True)
    name = models.CharField(_("name"), max_length=40, unique=True)
    sort_order = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("industry")
        verbose_name_plural = _("industries")

    def __str__(self) -> str:
        return self.name


class Enterprise(models.Model):
    uscc = models.CharField(_("USCC"), max_length=18, unique=True, validators=[validate_uscc])
    # Searched by "contains" through a trigram index on PostgreSQL (migration 0002), not a B-tree.
    name = models.CharField(_("enterprise name"), max_length=120)
    # Territory and industry are looked up through the composite indexes below, which lead with them.
    territory = models.ForeignKey(
        "orgs.Territory",
        on_delete=models.PROTECT,
        related_name="enterprises",
        verbose_name=_("territory"),
        db_index=False,
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    industry = models.ForeignKey(
        Industry, on_delete=models.PROTECT, verbose_name=_("industry"), db_index=False
    )
    # The contact's name and phone are personal data, encrypted at rest (SM4, phaseout.crypto; 等保
    # L3-CES1-28); shown in full to staff and the enterprise itself.
    contact_name = EncryptedTextField(
        _("contact person"), purpose="registry.contact_name", legacy="plaintext", max_length=40, blank=True
    )
    contact_phone = EncryptedTextField(
        _("contact phone"), purpose="registry.contact_phone", legacy="plaintext", max_length=30, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        indexes = [
            models.Index(fields=["territory", "industry", "-id"], name="enterprise_scope_idx"),
            models.Index(fields=["industry", "-id"], name="enterprise_industry_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        # Its lines follow it when it moves or changes industry (ProductionLine.territory, .industry).
        ProductionLine.objects.filter(enterprise=self).exclude(
            territory=self.territory_id, industry=self.industry_id
        ).update(territory=self.territory_id, industry=self.industry_id)


class Licence(models.Model):
    class Kind(models.TextChoices):
        POLLUTANT_DISCHARGE = "pollutant_discharge", _("Pollutant discharge permit")
        PRODUCTION = "production", _("Industrial product production licence")
        SAFETY_PRODUCTION = "safety_production", _("Safety production licence")

    class Status(models.TextChoices):
        VALID = "valid", _("Valid")
        REVOKED = "revoked", _("Revoked")
        CANCELLED = "cancelled", _("Cancelled")
        EXPIRED = "expired", _("Expired")

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="licences")
    kind = models.CharField(_("licence type"), max_length=30, choices=Kind.choices)
    number = models.CharField(_("licence number"), max_length=60)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.VALID)

    class Meta:
        verbose_name = _("licence")
        verbose_name_plural = _("licences")
        constraints = [models.UniqueConstraint(fields=["kind", "number"], name="licence_unique_number")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.number}"


class EquipmentType(models.TextChoices):
    BLAST_FURNACE = "blast_furnace", _("Blast furnace")
    CONVERTER = "converter", _("Converter")
    ELECTRIC_FURNACE = "electric_furnace", _("Electric arc furnace")
    INDUCTION_FURNACE = "induction_furnace", _("Induction furnace")
    SINTERING_MACHINE = "sintering_machine", _("Sintering machine")
    PELLET_SHAFT_FURNACE = "pellet_shaft_furnace", _("Pellet shaft furnace")
    COKE_OVEN = "coke_oven", _("Coke oven")
    SUBMERGED_ARC_FURNACE = "submerged_arc_furnace", _("Submerged arc furnace")
    CLINKER_LINE = "clinker_line", _("Cement clinker line")
    CEMENT_MILL = "cement_mill", _("Cement mill")
    FLAT_GLASS_LINE = "flat_glass_line", _("Flat glass line")
    OTHER = "other", _("Other equipment")


class SizeUnit(models.TextChoices):
    CUBIC_METRE = "m3", "m³"
    TONNE = "t", "t"
    TONNE_PER_DAY = "t/d", "t/d"
    SQUARE_METRE = "m2", "m²"
    METRE = "m", "m"
    NONE = "", _("(none)")


# The size parameter that rules depend on, per equipment type (one table, in the rules package).
SIZE_UNIT_FOR_TYPE: dict[str, str] = SIZE_UNITS


class CapacityUnit(models.TextChoices):
    TEN_THOUSAND_TONNES_PER_YEAR = "10kt/a", _("10,000 t/year")
    TONNES_PER_DAY = "t/d", "t/d"
    TEN_THOUSAND_WEIGHT_CASES_PER_YEAR = "10kwc/a", _("10,000 weight cases/year")


class LineStatus(models.TextChoices):
    OPERATING = "operating", _("Operating")
    RECTIFYING = "rectifying", _("Rectifying")
    SEALED = "sealed", _("Sealed")
    DISMANTLED = "dismantled", _("Dismantled")
    EXITED = "exited", _("Exited")
    RESUMED = "resumed", _("Resumed after exit")


class ProductionLine(QuickDisplay, models.Model):
    """A production line or a piece of main equipment."""

    enterprise = models.ForeignKey(
        Enterprise, on_delete=models.CASCADE, related_name="lines", verbose_name=_("enterprise")
    )
    name = models.CharField(_("line or equipment name"), max_length=80)
    equipment_type = models.CharField(_("equipment type"), max_length=30, choices=EquipmentType.choices)
    size_value = models.DecimalField(
        _("size"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    size_unit = models.CharField(_("size unit"), max_length=5, choices=SizeUnit.choices, blank=True)
    capacity = models.DecimalField(
        _("capacity"), max_digits=12, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    capacity_unit = models.CharField(_("capacity unit"), max_length=10, choices=CapacityUnit.choices)
    process = models.CharField(_("process"), max_length=80, blank=True)
    commissioning_year = models.PositiveSmallIntegerField(_("commissioning year"), null=True, blank=True)
    # Values the standards read: product, clinker ratio, altitude, ore shares, steel grade ...
    # (codes from the rulebooks' vocabulary; checked by the form and by the engine).
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=LineStatus.choices, default=LineStatus.OPERATING
    )
    exited_on = models.DateField(_("exited on"), null=True, blank=True)
    # The enterprise's territory, kept on the line (by save(), and by the enterprise's save and the register
    # import when the enterprise moves) so that a city's or a district's lines are found by an index, not by
    # joining 3,000,000 lines to 1,000,000 enterprises.
    territory = models.ForeignKey(
        "orgs.Territory",
        on_delete=models.PROTECT,
        null=True,
        editable=False,
        related_name="+",
        db_index=False,
    )
    # The enterprise's industry, kept on the line the same way: the exit ledger's totals by industry read
    # the exited lines alone (an index that holds them), not 100,000 enterprises one by one.
    industry = models.ForeignKey(
        Industry,
        on_delete=models.PROTECT,
        null=True,
        editable=False,
        related_name="+",
        db_index=False,
    )

    class Meta:
        ordering = ["enterprise_id", "id"]
        verbose_name = _("production line")
        verbose_name_plural = _("production lines")
        constraints = [
            models.CheckConstraint(name="line_capacity_positive", condition=models.Q(capacity__gt=0)),
            models.CheckConstraint(
                name="line_size_positive",
                condition=models.Q(size_value__isnull=True) | models.Q(size_value__gt=0),
            ),
            models.CheckConstraint(
                name="line_size_has_unit",
                condition=models.Q(size_value__isnull=True) | ~models.Q(size_unit=""),
            ),
            models.CheckConstraint(
                name="line_exited_has_date",
                condition=~models.Q(status="exited") | models.Q(exited_on__isnull=False),
            ),
        ]
        indexes = [
            # The exit ledger's order (oldest exit first, the id breaking ties) and its year filter.
            models.Index(fields=["status", "exited_on", "id"], name="line_exit_order_idx"),
            models.Index(fields=["territory", "status", "-id"], name="line_territory_idx"),
            # The exit ledger's counts and totals: the exited lines with every column they read.
            models.Index(
                fields=["territory", "exited_on", "id"],
                name="line_exited_totals_idx",
                include=["industry", "enterprise", "capacity", "capacity_unit"],
                condition=models.Q(status="exited"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.enterprise.name} · {self.name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.territory_id, self.industry_id = Enterprise.objects.values_list(
            "territory_id", "industry_id"
        ).get(pk=self.enterprise_id)
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "territory", "industry"}
        super().save(*args, **kwargs)

    @property
    def size_display(self) -> str:
        if self.size_value is None:
            return ""
        return f"{self.size_value.normalize():f} {self.get_size_unit_display()}"

    @property
    def capacity_display(self) -> str:
        return f"{self.capacity.normalize():f} {self.get_capacity_unit_display()}"


class ImportBatch(models.Model):
    """One upload of an enterprise register: previewed first, written only when accepted."""

    class Status(models.TextChoices):
        CHECKING = "checking", _("Checking the file")
        PREVIEW = "preview", _("Awaiting acceptance")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Imported")
        FAILED = "failed", _("Failed")

    # The register as uploaded holds the contacts' names and phones: sealed at rest (SM4-GCM).
    file = models.FileField(upload_to="imports/%Y/%m/", storage=SealedFileStorage(purpose="register"))
    original_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PREVIEW)
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("register import")
        verbose_name_plural = _("register imports")

    def __str__(self) -> str:
        return self.original_name

    @property
    def progress_percent(self) -> int:
        if not self.valid_rows:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, round(100 * self.processed_rows / self.valid_rows))


class Measurement(models.Model):
    """A measured value of one indicator for one line (energy use, emissions, sampling results)."""

    class Source(models.TextChoices):
        INSPECTION = "inspection", _("Inspection")
        ENERGY_AUDIT = "energy_audit", _("Energy audit or statistics report")
        MONITORING = "monitoring", _("Online monitoring")
        SAMPLING = "sampling", _("Quality sampling")
        SELF_REPORT = "self_report", _("Enterprise self-report")

    line = models.ForeignKey(
        ProductionLine, on_delete=models.CASCADE, related_name="measurements", verbose_name=_("line")
    )
    indicator = models.CharField(_("indicator"), max_length=40)
    value = models.DecimalField(_("value"), max_digits=14, decimal_places=4)
    unit = models.CharField(_("unit"), max_length=20)
    measured_on = models.DateField(_("measured on"))
    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("measurement")
        verbose_name_plural = _("measurements")
        ordering = ["-measured_on", "-id"]
        indexes = [
            # The newest value of each indicator of each line, in the order the registry evaluation reads
            # them (DISTINCT ON line, indicator): read from the index alone on PostgreSQL, without a sort.
            models.Index(
                fields=["line", "indicator", "-measured_on", "-id"],
                include=["value", "unit"],
                name="measurement_newest_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.indicator} {self.value} {self.unit}"
