"""Online pollution-source monitoring (污染源自动监控): the monitoring points (MN) of enterprises' discharge
outlets, the readings their data loggers send over HJ 212, and the packets the receiver refused.

Readings keep every value field and data flag as sent ({code: {field: value, "Flag": "N"}}): validity,
exceedance and data checks are judged from them later, never here. On PostgreSQL the readings table is
partitioned by month of data_time (migration 0001; ADR 0017)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from phaseout.choices import QuickDisplay
from phaseout.crypto.fields import EncryptedTextField


class PointKind(models.TextChoices):
    FLUE_GAS = "gas", _("Flue gas")
    WASTEWATER = "water", _("Wastewater")


class DataKind(models.TextChoices):
    """The HJ 212 commands whose packets are stored as readings."""

    REALTIME = "2011", _("Real-time data")
    MINUTE = "2051", _("Minute data")
    HOURLY = "2061", _("Hourly data")
    DAILY = "2031", _("Daily data")


class KeyDischargeUnit(models.Model):
    """An enterprise on the key discharge units list (重点排污单位名录), which must install and run online
    monitors: for flue gas, wastewater or both."""

    enterprise = models.OneToOneField(
        "registry.Enterprise",
        on_delete=models.CASCADE,
        related_name="key_discharge_unit",
        verbose_name=_("enterprise"),
    )
    listed_year = models.PositiveSmallIntegerField(_("listed in year"))
    flue_gas = models.BooleanField(_("flue gas monitors required"), default=True)
    wastewater = models.BooleanField(_("wastewater monitors required"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("key discharge unit")
        verbose_name_plural = _("key discharge units")

    def __str__(self) -> str:
        return str(self.enterprise)


class MonitoringPoint(models.Model):
    """A monitor on one discharge outlet: its data logger's MN and access password (PW)."""

    mn = models.CharField(_("MN"), max_length=24, unique=True)
    enterprise = models.ForeignKey(
        "registry.Enterprise", on_delete=models.PROTECT, related_name="monitoring_points"
    )
    outlet_code = models.CharField(_("discharge outlet code"), max_length=20)
    outlet_name = models.CharField(_("discharge outlet name"), max_length=60)
    kind = models.CharField(_("kind"), max_length=5, choices=PointKind.choices)
    lines = models.ManyToManyField(
        "registry.ProductionLine",
        related_name="monitoring_points",
        blank=True,
        verbose_name=_("lines served"),
    )
    # The logger sends PW in every packet; it is kept encrypted (SM4, phaseout.crypto), and the receiver
    # compares it in constant time with what it decrypted once at start.
    password = EncryptedTextField(_("access password"), purpose="monitoring.password", max_length=32)
    active = models.BooleanField(_("active"), default=True)
    last_seen_at = models.DateTimeField(_("last data received"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["enterprise_id", "outlet_code", "id"]
        verbose_name = _("monitoring point")
        verbose_name_plural = _("monitoring points")
        constraints = [
            models.UniqueConstraint(
                fields=["enterprise", "outlet_code", "kind"], name="monitoring_point_outlet"
            )
        ]

    def __str__(self) -> str:
        return f"{self.outlet_name} ({self.mn})"


class Reading(models.Model):
    """One data packet's values for one point and one data time: stored once however often it is sent.

    On PostgreSQL the table is partitioned by month of data_time; the primary key is (id, data_time)
    there, and the unique key (point, cn, data_time) holds the partition key as PostgreSQL requires."""

    point = models.ForeignKey(MonitoringPoint, on_delete=models.PROTECT, related_name="readings")
    cn = models.CharField(_("data kind"), max_length=4, choices=DataKind.choices)
    data_time = models.DateTimeField(_("data time"))
    values = models.JSONField(_("values"))
    qn = models.CharField(_("request number"), max_length=20)
    received_at = models.DateTimeField(_("received at"))

    class Meta:
        verbose_name = _("reading")
        verbose_name_plural = _("readings")
        constraints = [models.UniqueConstraint(fields=["point", "cn", "data_time"], name="reading_once")]

    def __str__(self) -> str:
        return f"{self.point_id} {self.cn} {self.data_time:%Y-%m-%d %H:%M}"


class RejectedPackets(models.Model):
    """Packets the receiver refused, counted by MN and reason over one flush of its buffer (a flood of
    bad packets is a handful of rows, not one row each), with the first one's start as a sample."""

    first_at = models.DateTimeField(_("first refused at"))
    last_at = models.DateTimeField(_("last refused at"))
    mn = models.CharField(_("MN"), max_length=24, blank=True)
    peer = models.CharField(_("peer address"), max_length=64, blank=True)
    reason = models.CharField(_("reason"), max_length=20)
    count = models.PositiveIntegerField(_("count"))
    detail = models.CharField(_("detail"), max_length=200, blank=True)
    sample = models.CharField(_("sample"), max_length=200, blank=True)

    class Meta:
        ordering = ["-last_at", "-id"]
        verbose_name = _("rejected packets")
        verbose_name_plural = _("rejected packets")
        indexes = [models.Index(fields=["-last_at"], name="rejected_packets_recent")]

    def __str__(self) -> str:
        return f"{self.mn} {self.reason} x{self.count}"


class CheckKind(models.TextChoices):
    EXCEEDANCE = "exceedance", _("Exceedance")
    OFFLINE = "offline", _("Monitor offline")
    INCOMPLETE = "incomplete", _("Data incomplete")


class CheckStatus(models.TextChoices):
    OPEN = "open", _("Awaiting a decision")
    CONFIRMED = "confirmed", _("Confirmed")
    DISMISSED = "dismissed", _("Dismissed")


class DismissalReason(models.TextChoices):
    CALIBRATION = "calibration", _("Calibration or maintenance of the monitor")
    START_UP = "start_up", _("Start-up or shut-down of the production facility")
    FAULT = "fault", _("Instrument fault, confirmed on site")
    TRANSMISSION = "transmission", _("Data transmission fault")
    STOPPED = "stopped", _("Production stopped (a monitor offline with the facility stopped)")
    OTHER = "other", _("Other (explained)")


class DataCheck(QuickDisplay, models.Model):
    """超标数据核查: what the screening of a point's data found — an exceedance episode, a monitor offline,
    data below completeness — as a proposal for the environment department of the point's city. A person
    confirms it (an exceedance then becomes a finding and a case on the environment path) or dismisses it
    with a reason; the machine decides nothing."""

    point = models.ForeignKey(MonitoringPoint, on_delete=models.PROTECT, related_name="checks")
    enterprise = models.ForeignKey("registry.Enterprise", on_delete=models.PROTECT, related_name="+")
    territory = models.ForeignKey("orgs.Territory", on_delete=models.PROTECT, related_name="+")
    line = models.ForeignKey(
        "registry.ProductionLine", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=CheckKind.choices)
    status = models.CharField(
        _("status"), max_length=10, choices=CheckStatus.choices, default=CheckStatus.OPEN
    )
    # An exceedance: the pollutant, the rule version and its limit (after corrections), the averaging period.
    pollutant = models.CharField(_("pollutant"), max_length=8, blank=True)
    rule_id = models.CharField(_("rule"), max_length=80, blank=True)
    rule_version = models.CharField(_("rule version"), max_length=40, blank=True)
    rule_title = models.CharField(_("rule title"), max_length=200, blank=True)
    limit_value = models.DecimalField(_("limit"), max_digits=14, decimal_places=4, null=True, blank=True)
    averaging = models.CharField(_("averaging period"), max_length=12, blank=True)
    unconfirmed = models.BooleanField(_("rests on an unconfirmed value"), default=False)
    period_start = models.DateTimeField(_("from"))
    period_end = models.DateTimeField(_("until"))
    peak = models.DecimalField(_("highest value"), max_digits=14, decimal_places=4, null=True, blank=True)
    count = models.PositiveIntegerField(_("exceeding or missing hours"), default=0)
    # The averages behind it, each [start ISO, value or null, flag, valid]; bounded by the screening window.
    evidence = models.JSONField(_("evidence"), default=list)
    raised_at = models.DateTimeField(_("raised at"))
    decided_by = models.ForeignKey(
        "auth.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(_("recorded at"), null=True, blank=True)
    decided_on = models.DateField(_("decided on"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=12, choices=DismissalReason.choices, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    serious = models.BooleanField(_("serious (情节严重)"), default=False)
    finding = models.OneToOneField(
        "cases.Finding", on_delete=models.PROTECT, null=True, blank=True, related_name="data_check"
    )

    class Meta:
        ordering = ["-period_start", "-id"]
        verbose_name = _("data check")
        verbose_name_plural = _("data checks")
        constraints = [
            models.UniqueConstraint(
                fields=["point", "kind", "pollutant", "rule_id", "period_start"], name="data_check_once"
            ),
            # One open offline or incomplete check per point at a time.
            models.UniqueConstraint(
                fields=["point", "kind"],
                condition=models.Q(status="open", kind__in=["offline", "incomplete"]),
                name="data_check_one_open_per_point",
            ),
            models.CheckConstraint(
                name="data_check_decided_with_who",
                condition=models.Q(status="open", decided_by__isnull=True, decided_on__isnull=True)
                | (
                    ~models.Q(status="open")
                    & models.Q(decided_by__isnull=False, decided_on__isnull=False, decided_at__isnull=False)
                ),
            ),
            models.CheckConstraint(
                name="data_check_dismissed_with_reason",
                condition=~models.Q(status="dismissed") | ~models.Q(reason=""),
            ),
        ]
        indexes = [
            models.Index(fields=["territory", "status", "-period_start"], name="data_check_queue"),
            models.Index(fields=["status", "kind", "point"], name="data_check_open"),
        ]

    def __str__(self) -> str:
        return f"{self.point.mn} {self.get_kind_display()} {self.period_start:%Y-%m-%d %H:%M}"
