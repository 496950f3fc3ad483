"""Power use from the grid, the induction-furnace register and the signals raised from them.

- ElectricityAccount: the power utility's account number (户号) matched to an enterprise and, where the
  meter serves one line, to that line.
- PowerImport / PowerReading: the utility's power-use data, daily or monthly kWh per account (with the
  night, valley-period kWh where the meter splits it), one reading per account and period.
- InductionFurnace: the register of medium- and power-frequency furnaces (Heyuan 二(三)3), registered by
  the district, verified by the department.
- Signal: a proposal for a person (回头看): an exited or sealed line still drawing power, a furnace whose
  power does not fit its registered use, a furnace registered for a use outside the permitted scope.
- Event: the history of each of them.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.choices import QuickDisplay
from phaseout.orgs.models import Dimension
from phaseout.rules.furnaces import FurnaceKind as RuleFurnaceKind
from phaseout.rules.furnaces import FurnaceUse as RuleFurnaceUse

ACCOUNT_NUMBER = RegexValidator(r"^[0-9A-Za-z-]{4,20}$", _("An account number is 4 to 20 digits or letters."))


class ElectricityAccount(models.Model):
    number = models.CharField(
        _("electricity account"), max_length=20, unique=True, validators=[ACCOUNT_NUMBER]
    )
    enterprise = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, related_name="+", verbose_name=_("enterprise")
    )
    line = models.ForeignKey(
        "registry.ProductionLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("production line"),
    )
    # The enterprise's territory when matched, so that scope needs no join.
    territory = models.ForeignKey("orgs.Territory", on_delete=models.PROTECT, related_name="+")
    matched_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    matched_at = models.DateTimeField(_("matched at"))

    class Meta:
        ordering = ["number"]
        verbose_name = _("electricity account")
        verbose_name_plural = _("electricity accounts")
        indexes = [
            models.Index(fields=["line"], name="account_line_idx", condition=models.Q(line__isnull=False)),
            models.Index(fields=["territory", "number"], name="account_territory_idx"),
        ]

    def __str__(self) -> str:
        return self.number


class PowerImport(models.Model):
    """One upload of the utility's power-use data: the rows written and every bad row with its reason."""

    original_name = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField()
    total_rows = models.PositiveIntegerField(default=0)
    valid_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("power-use import")
        verbose_name_plural = _("power-use imports")

    def __str__(self) -> str:
        return self.original_name


class Granularity(models.TextChoices):
    DAY = "day", _("Daily")
    MONTH = "month", _("Monthly")


class PowerReading(models.Model):
    account = models.ForeignKey(ElectricityAccount, on_delete=models.PROTECT, related_name="readings")
    granularity = models.CharField(_("period"), max_length=5, choices=Granularity.choices)
    period_start = models.DateField(_("from"))
    period_end = models.DateField(_("until"))
    kwh = models.DecimalField(_("kWh"), max_digits=14, decimal_places=2)
    # The valley (night) part, where the meter splits the day by tariff period.
    valley_kwh = models.DecimalField(_("night kWh"), max_digits=14, decimal_places=2, null=True, blank=True)
    source = models.ForeignKey(PowerImport, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["account_id", "period_start"]
        verbose_name = _("power reading")
        verbose_name_plural = _("power readings")
        constraints = [
            models.UniqueConstraint(
                fields=["account", "period_start", "granularity"], name="power_reading_once"
            ),
            models.CheckConstraint(name="reading_kwh_not_negative", condition=models.Q(kwh__gte=0)),
            models.CheckConstraint(
                name="reading_period_ordered", condition=models.Q(period_end__gte=models.F("period_start"))
            ),
            models.CheckConstraint(
                name="reading_valley_within_total",
                condition=models.Q(valley_kwh__isnull=True)
                | models.Q(valley_kwh__gte=0, valley_kwh__lte=models.F("kwh")),
            ),
        ]
        indexes = [models.Index(fields=["period_start", "account"], name="reading_period_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.period_start} {self.kwh}"


class FurnaceKind(models.TextChoices):
    MEDIUM_FREQUENCY = RuleFurnaceKind.MEDIUM_FREQUENCY.value, _("Medium-frequency induction furnace")
    POWER_FREQUENCY = RuleFurnaceKind.POWER_FREQUENCY.value, _("Power-frequency induction furnace")


class FurnaceUse(models.TextChoices):
    CASTING = RuleFurnaceUse.CASTING.value, _("Foundry castings")
    SPECIAL_ALLOY = RuleFurnaceUse.SPECIAL_ALLOY.value, _("Special or precision alloys")
    FERROALLOY_MELTING = (
        RuleFurnaceUse.FERROALLOY_MELTING.value,
        _("Melting ferro-alloys in a stainless or high-alloy steel route"),
    )
    CARBON_STEEL = RuleFurnaceUse.CARBON_STEEL.value, _("Plain carbon steel")
    CONSTRUCTION_STEEL = RuleFurnaceUse.CONSTRUCTION_STEEL.value, _("Construction steel, ingots or billets")
    OTHER = RuleFurnaceUse.OTHER.value, _("Other")


class FurnaceStatus(models.TextChoices):
    IN_USE = "in_use", _("In use")
    STOPPED = "stopped", _("Stopped")
    DISMANTLED = "dismantled", _("Dismantled")


class FurnaceState(models.TextChoices):
    REGISTERED = "registered", _("Registered, awaiting verification")
    VERIFIED = "verified", _("Verified")
    RETURNED = "returned", _("Returned for correction")


class InductionFurnace(models.Model):
    enterprise = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, related_name="+", verbose_name=_("enterprise")
    )
    line = models.ForeignKey(
        "registry.ProductionLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("production line"),
    )
    territory = models.ForeignKey("orgs.Territory", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("furnace name or number"), max_length=60)
    kind = models.CharField(_("furnace type"), max_length=20, choices=FurnaceKind.choices)
    capacity_t = models.DecimalField(
        _("capacity (t)"), max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    transformer_kva = models.PositiveIntegerField(
        _("transformer rating (kVA)"), validators=[MinValueValidator(1)]
    )
    use = models.CharField(_("use"), max_length=20, choices=FurnaceUse.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=FurnaceStatus.choices, default=FurnaceStatus.IN_USE
    )
    account = models.ForeignKey(
        ElectricityAccount,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="furnaces",
        verbose_name=_("electricity account"),
    )
    state = models.CharField(
        _("register state"), max_length=12, choices=FurnaceState.choices, default=FurnaceState.REGISTERED
    )
    version = models.PositiveIntegerField(default=1)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(_("registered at"))
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verification_note = models.CharField(_("verification note"), max_length=500, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("induction furnace")
        verbose_name_plural = _("induction furnaces")
        constraints = [
            models.CheckConstraint(name="furnace_capacity_positive", condition=models.Q(capacity_t__gt=0)),
            models.CheckConstraint(
                name="furnace_verified_paired",
                condition=~models.Q(state="verified")
                | models.Q(verified_by__isnull=False, verified_at__isnull=False),
            ),
            models.UniqueConstraint(fields=["enterprise", "name"], name="furnace_name_per_enterprise"),
        ]
        indexes = [
            models.Index(fields=["territory", "state", "-id"], name="furnace_territory_idx"),
            models.Index(fields=["use", "-id"], name="furnace_use_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class SignalKind(models.TextChoices):
    RESUMED_POWER = "resumed_power", _("Exited or sealed line still drawing power")
    RESUMED_EMISSION = "resumed_emission", _("Exited or sealed line still emitting")
    FURNACE_NIGHT_USE = "furnace_night_use", _("Furnace drawing most of its power at night")
    FURNACE_STOPPED_DRAWING = "furnace_stopped_drawing", _("Furnace registered as stopped drawing power")
    FURNACE_OUT_OF_SCOPE = (
        "furnace_out_of_scope",
        _("Furnace registered for a use outside the permitted scope"),
    )


class SignalStatus(models.TextChoices):
    OPEN = "open", _("Awaiting a person's decision")
    CONFIRMED = "confirmed", _("Confirmed: re-inspection asked")
    DISMISSED = "dismissed", _("Dismissed")


class Signal(QuickDisplay, models.Model):
    """A proposal for a person: never a decision by itself (domain.md, "Who decides")."""

    kind = models.CharField(_("signal"), max_length=30, choices=SignalKind.choices)
    # What the signal is about, as one key (line:12, furnace:3, enterprise:7): with the kind and the period,
    # what makes the same evidence one signal however often it is seen.
    subject_key = models.CharField(max_length=40)
    enterprise = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, related_name="+", verbose_name=_("enterprise")
    )
    line = models.ForeignKey(
        "registry.ProductionLine",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("production line"),
    )
    furnace = models.ForeignKey(
        InductionFurnace, on_delete=models.PROTECT, null=True, blank=True, related_name="signals"
    )
    territory = models.ForeignKey("orgs.Territory", on_delete=models.PROTECT, related_name="+")
    # The dimension whose department is competent (the case's, for an exited line; technology otherwise).
    dimension = models.CharField(_("dimension"), max_length=20, choices=Dimension.choices)
    evidence = models.JSONField(_("evidence"), default=dict)
    observed_from = models.DateField(_("observed from"))
    observed_to = models.DateField(_("observed until"))
    raised_at = models.DateTimeField(_("raised at"))
    status = models.CharField(
        _("status"), max_length=10, choices=SignalStatus.choices, default=SignalStatus.OPEN
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    reason = models.TextField(_("reason"), blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("signal")
        verbose_name_plural = _("signals")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject_key", "observed_from", "observed_to"], name="signal_once_per_period"
            ),
            models.CheckConstraint(
                name="signal_decided_paired",
                condition=models.Q(status="open", decided_by__isnull=True, decided_at__isnull=True)
                | (~models.Q(status="open") & models.Q(decided_by__isnull=False, decided_at__isnull=False)),
            ),
            models.CheckConstraint(
                name="signal_dismissed_has_reason",
                condition=~models.Q(status="dismissed") | ~models.Q(reason=""),
            ),
            models.CheckConstraint(
                name="signal_period_ordered", condition=models.Q(observed_to__gte=models.F("observed_from"))
            ),
        ]
        indexes = [
            models.Index(fields=["territory", "status", "-id"], name="signal_territory_idx"),
            models.Index(fields=["dimension", "status", "-id"], name="signal_dimension_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class Event(models.Model):
    """The history of an account, a furnace or a signal: who did what, when, and why."""

    account = models.ForeignKey(
        ElectricityAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    furnace = models.ForeignKey(
        InductionFurnace, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    signal = models.ForeignKey(Signal, on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    action = models.CharField(max_length=30)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    at = models.DateTimeField()
    reason = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("history event")
        verbose_name_plural = _("history events")
        constraints = [
            models.CheckConstraint(
                name="signals_event_has_one_subject",
                condition=models.Q(account__isnull=False, furnace__isnull=True, signal__isnull=True)
                | models.Q(account__isnull=True, furnace__isnull=False, signal__isnull=True)
                | models.Q(account__isnull=True, furnace__isnull=True, signal__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return self.action
