"""Writes of people: monitoring points registered and changed, key discharge units listed. (Readings come
from the receiver, phaseout.monitoring.store.)"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction
from django.utils.translation import gettext as _

from phaseout.audit.record import record
from phaseout.monitoring.models import KeyDischargeUnit, MonitoringPoint, PointKind
from phaseout.registry.models import Enterprise, ProductionLine


class MonitoringError(ValueError):
    pass


def _check_mn(mn: str) -> str:
    mn = mn.strip()
    if not (1 <= len(mn) <= 24) or not mn.isascii() or not mn.isalnum():
        raise MonitoringError(_("An MN is 1 to 24 letters and digits."))
    return mn


def _check_password(password: str) -> str:
    if not (1 <= len(password) <= 32) or not password.isascii() or not password.isprintable():
        raise MonitoringError(_("A data logger's password is 1 to 32 printable ASCII characters."))
    if any(ch in password for ch in ";=,&"):
        raise MonitoringError(_("A data logger's password cannot hold ; = , or &."))
    return password


def register_point(
    *,
    enterprise: Enterprise,
    mn: str,
    outlet_code: str,
    outlet_name: str,
    kind: PointKind,
    password: str,
    lines: Iterable[ProductionLine] = (),
    by: User | None,
) -> MonitoringPoint:
    """A monitor on one of the enterprise's discharge outlets, with its logger's MN and password."""
    mn = _check_mn(mn)
    password = _check_password(password)
    lines = list(lines)
    if any(line.enterprise_id != enterprise.pk for line in lines):
        raise MonitoringError(_("A monitoring point serves lines of its own enterprise only."))
    with transaction.atomic():
        if MonitoringPoint.objects.filter(mn=mn).exists():
            raise MonitoringError(_("This MN is already registered."))
        point = MonitoringPoint.objects.create(
            enterprise=enterprise, mn=mn, outlet_code=outlet_code[:20], outlet_name=outlet_name[:60],
            kind=kind, password=password,
        )  # fmt: skip
        point.lines.set(lines)
        record(
            actor=by, action="monitoring.register_point", obj=point,
            data={"mn": mn, "enterprise": enterprise.pk, "outlet": outlet_code,
                  "lines": [x.pk for x in lines]},
        )  # fmt: skip
    return point


def set_point_active(
    *, point: MonitoringPoint, active: bool, by: User | None, reason: str
) -> MonitoringPoint:
    with transaction.atomic():
        point = MonitoringPoint.objects.select_for_update().get(pk=point.pk)
        point.active = active
        point.save(update_fields=["active"])
        record(
            actor=by, action="monitoring.set_active", obj=point, reason=reason[:200], data={"active": active}
        )
    return point


def list_key_unit(
    *, enterprise: Enterprise, year: int, flue_gas: bool, wastewater: bool, by: User | None
) -> KeyDischargeUnit:
    """Put the enterprise on the key discharge units list (or change what it must monitor)."""
    if not (flue_gas or wastewater):
        raise MonitoringError(_("A key discharge unit must monitor flue gas, wastewater or both."))
    with transaction.atomic():
        unit, created = KeyDischargeUnit.objects.update_or_create(
            enterprise=enterprise,
            defaults={"listed_year": year, "flue_gas": flue_gas, "wastewater": wastewater},
        )
        record(
            actor=by, action="monitoring.list_key_unit", obj=unit,
            data={"year": year, "flue_gas": flue_gas, "wastewater": wastewater, "created": created},
        )  # fmt: skip
    return unit
