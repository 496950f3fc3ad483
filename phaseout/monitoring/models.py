"""Online pollution-source monitoring (污染源自动监控): the monitoring points (MN) of enterprises' discharge
outlets, the readings their data loggers send over HJ 212, and the packets the receiver refused.

Readings keep every value field and data flag as sent ({code: {field: value, "Flag": "N"}}): validity,
exceedance and data checks are judged from them later, never here. On PostgreSQL the readings table is
partitioned by month of data_time (migration 0001; ADR 0017)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

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
